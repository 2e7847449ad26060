package index

import "errors"

// ErrInvalid matches (with errors.Is) every error that normalisation returns for a value.
var ErrInvalid = errors.New("index: invalid value")

// ErrRegion is returned for a Normalizer whose Region is not a known ISO 3166-1 region.
var ErrRegion = errors.New("index: unknown default region")

// Error is a normalisation error. It names the kind and what is wrong with the value, never
// the value itself, so that it can be logged.
type Error struct {
	Kind   Kind   // the kind being normalised
	Reason string // what is wrong, e.g. "missing @"; never contains the value
}

// Error returns "index: invalid <kind>: <reason>".
func (e *Error) Error() string {
	return "index: invalid " + e.Kind.String() + ": " + e.Reason
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool {
	return target == ErrInvalid
}

// invalid returns an *Error for kind with reason.
func invalid(kind Kind, reason string) error {
	return &Error{Kind: kind, Reason: reason}
}
