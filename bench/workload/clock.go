package workload

import "math"

// Contacts do not arrive evenly around the clock: the generator's clock runs on "activity
// time", a monotonic warp of real time in which an hour counts for as much as the share of
// contacts that arrive in it. An even stream of activity time therefore maps to a real
// stream that peaks on weekday mornings and is nearly silent at night.

// dayShare weighs the days of the week, Monday first.
var dayShare = [7]float64{1.15, 1.1, 1.05, 1.0, 0.95, 0.55, 0.35}

// hourShare weighs the hours of the day (UTC; the Netherlands are one or two hours ahead).
var hourShare = [24]float64{0.12, 0.05, 0.03, 0.03, 0.05, 0.15, 0.5, 1.2, 1.9, 2.1, 2.0, 1.8,
	1.7, 1.8, 1.9, 1.7, 1.5, 1.3, 1.2, 1.25, 1.2, 0.9, 0.5, 0.25}

const (
	week = 7 * 86400
	// mondayEpoch is 1970-01-05T00:00:00Z, a Monday.
	mondayEpoch = 4 * 86400
)

var (
	hourWeight [168]float64 // activity seconds per real second, hour by hour from Monday 00:00
	hourStart  [169]float64 // activity at the start of each hour of the week; hourStart[168] == week
)

func init() {
	sum := 0.0
	for h := range hourWeight {
		hourWeight[h] = dayShare[h/24] * hourShare[h%24]
		sum += hourWeight[h]
	}
	for h := range hourWeight {
		hourWeight[h] *= 168 / sum // mean 1: a week of activity is a week
		hourStart[h+1] = hourStart[h] + hourWeight[h]*3600
	}
	hourStart[168] = week
}

// toActivity maps a Unix time to activity time.
func toActivity(unix int64) float64 {
	s := unix - mondayEpoch
	w := floorDiv(s, week)
	r := s - w*week
	h := r / 3600
	return float64(w)*week + hourStart[h] + float64(r-h*3600)*hourWeight[h]
}

// fromActivity maps activity time back to a Unix time, rounded down to the second.
func fromActivity(a float64) int64 {
	w := math.Floor(a / week)
	r := a - w*week
	lo, hi := 0, 167
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if hourStart[mid] <= r {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	sec := (r-hourStart[lo])/hourWeight[lo] + 1e-3 // absorb rounding, so whole seconds survive a round trip
	if sec > 3599 {
		sec = 3599
	}
	return mondayEpoch + int64(w)*week + int64(lo)*3600 + int64(sec)
}
