package index

import (
	"errors"
	"strings"
	"testing"
)

func TestEmail(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	label := long(63)
	domain252 := label + "." + label + "." + label + "." + long(60) // 63*3+60+3 = 252
	tests := []struct {
		in, want string // want "" means an error
		fold     string // with FoldProviders; "" means same as want
	}{
		// Bare addr-spec, the domain lowered, the local part kept.
		{in: "jan@example.nl", want: "jan@example.nl"},
		{in: "Jan.Smit@Example.NL", want: "Jan.Smit@example.nl"},
		{in: "  JAN@EXAMPLE.NL \t\n", want: "JAN@example.nl"},
		{in: "jan@example.nl.", want: "jan@example.nl"},
		{in: "jan@localhost", want: "jan@localhost"},
		{in: "o'brien+x_y=z@example.ie", want: "o'brien+x_y=z@example.ie"},
		// Quoting: unquoted when not needed, canonical when needed.
		{in: `"jan"@example.nl`, want: "jan@example.nl"},
		{in: `"j\an"@example.nl`, want: "jan@example.nl"},
		{in: `"jan.smit"@example.nl`, want: "jan.smit@example.nl"},
		{in: `"jan smit"@example.nl`, want: `"jan smit"@example.nl`},
		{in: `"a\"b"@example.nl`, want: `"a\"b"@example.nl`},
		{in: `"a\\b"@example.nl`, want: `"a\\b"@example.nl`},
		{in: `"a..b"@example.nl`, want: `"a..b"@example.nl`},
		{in: `".jan"@example.nl`, want: `".jan"@example.nl`},
		{in: `"a@b"@example.nl`, want: `"a@b"@example.nl`},
		// Name-addr, comments, mailto.
		{in: "Jan Smit <jan@example.nl>", want: "jan@example.nl"},
		{in: `"Smit, Jan" <Jan@Example.NL.>`, want: "Jan@example.nl"},
		{in: "=?utf-8?q?J=C3=A1n?= <jan@example.nl>", want: "jan@example.nl"},
		{in: "jan@example.nl (Jan Smit)", want: "jan@example.nl"},
		{in: "mailto:jan@example.nl", want: "jan@example.nl"},
		{in: "MailTo:Jan%2Bnews@Example.NL?subject=Hallo&body=x", want: "Jan+news@example.nl"},
		// IDN domains: to ASCII, case and width folded, non-transitional (ß kept).
		{in: "jan@Bücher.DE", want: "jan@xn--bcher-kva.de"},
		{in: "jan@xn--bcher-kva.de", want: "jan@xn--bcher-kva.de"},
		{in: "jan@XN--BCHER-KVA.DE", want: "jan@xn--bcher-kva.de"},
		{in: "jan@ＥＸＡＭＰＬＥ．ｃｏｍ", want: "jan@example.com"},
		{in: "jan@straße.de", want: "jan@xn--strae-oqa.de"},
		{in: "info@münchen.de", want: "info@xn--mnchen-3ya.de"},
		{in: "test@例え.テスト", want: "test@xn--r8jz45g.xn--zckzah"},
		{in: "jan@example.nl。", want: "jan@example.nl"},
		// UTF-8 local parts (RFC 6532) kept byte for byte.
		{in: "jöhn@example.nl", want: "jöhn@example.nl"},
		{in: "Jöhn@Example.NL", want: "Jöhn@example.nl"},
		// Providers: only folded with FoldProviders.
		{in: "Jan.Smit+news@gmail.com", want: "Jan.Smit+news@gmail.com", fold: "jansmit@gmail.com"},
		{in: "Jan.Smit+news@GoogleMail.com", want: "Jan.Smit+news@googlemail.com", fold: "jansmit@gmail.com"},
		{in: "j.a.n@gmail.com", want: "j.a.n@gmail.com", fold: "jan@gmail.com"},
		{in: "+news@gmail.com", want: "+news@gmail.com"},
		{in: `"jan smit"@gmail.com`, want: `"jan smit"@gmail.com`},
		{in: "Jan.Smit+x@Outlook.com", want: "Jan.Smit+x@outlook.com", fold: "jan.smit@outlook.com"},
		{in: "Jan.Smit+x@hotmail.com", want: "Jan.Smit+x@hotmail.com", fold: "jan.smit@hotmail.com"},
		{in: "Jan.Smit+x@hotmail.nl", want: "Jan.Smit+x@hotmail.nl"},
		{in: "Jan+x@live.com", want: "Jan+x@live.com", fold: "jan@live.com"},
		{in: "Jan+x@iCloud.com", want: "Jan+x@icloud.com", fold: "jan@icloud.com"},
		{in: "Jan+x@me.com", want: "Jan+x@me.com", fold: "jan@me.com"},
		{in: "Jan+x@fastmail.com", want: "Jan+x@fastmail.com", fold: "Jan@fastmail.com"},
		{in: "Jan.Smit+x@proton.me", want: "Jan.Smit+x@proton.me", fold: "jan.smit@proton.me"},
		{in: "Jan.Smit+x@pm.me", want: "Jan.Smit+x@pm.me", fold: "jan.smit@pm.me"},
		{in: "Jan.Smit+x@example.com", want: "Jan.Smit+x@example.com"},
		// Limits.
		{in: long(64) + "@example.nl", want: long(64) + "@example.nl"},
		{in: "a@" + domain252, want: "a@" + domain252}, // 254 octets
		{in: long(64) + "@" + label + "." + label + "." + long(61), want: long(64) + "@" + label + "." + label + "." + long(61)},
		// Refused.
		{in: ""},
		{in: "   "},
		{in: "jan"},
		{in: "jan.example.nl"},
		{in: "@example.nl"},
		{in: "jan@"},
		{in: `""@example.nl`},
		{in: "jan@@example.nl"},
		{in: "a@b@example.nl"},
		{in: "jan@example..nl"},
		{in: "jan@example.nl.."},
		{in: "jan.@example.nl"},
		{in: ".jan@example.nl"},
		{in: "ja..n@example.nl"},
		{in: "jan smit@example.nl"},
		{in: "jan@ex ample.nl"},
		{in: "jan@ex_ample.nl"},
		{in: "jan@-example.nl"},
		{in: "jan@example-.nl"},
		{in: "jan@xn--a.nl"},
		{in: "jan@[192.0.2.1]"},
		{in: "jan@[IPv6:2001:db8::1]"},
		{in: "a@example.nl, b@example.nl"},
		{in: "Jan <jan@example.nl"},
		{in: "jan@example.nl\x00"},
		{in: "ja\x01n@example.nl"},
		{in: "jan\x7f@example.nl"},
		{in: "jan\u0085@example.nl"},
		{in: `"jan` + "\t" + `smit"@example.nl`},
		{in: "jan\xff@example.nl"},
		{in: "mailto:jan%0A@example.nl"},
		{in: "mailto:jan%zz@example.nl"},
		{in: long(65) + "@example.nl"},
		{in: `"` + long(63) + `"@example.nl`, want: long(63) + "@example.nl"},
		{in: `"` + long(62) + ` "@example.nl`},
		{in: "a@" + long(64) + ".nl"},
		{in: "a@" + domain252 + "a"},                                // 255 octets
		{in: "a@" + domain252 + "a.nl"},                             // domain over 253
		{in: long(64) + "@" + label + "." + label + "." + long(62)}, // 255 octets
		{in: strings.Repeat(" ", 2000) + "jan@example.nl" + strings.Repeat("x", 2000)},
	}
	for _, tt := range tests {
		for _, fold := range []bool{false, true} {
			want := tt.want
			if fold && tt.fold != "" {
				want = tt.fold
			}
			got, err := Normalizer{FoldProviders: fold}.Email(tt.in)
			if want == "" {
				if err == nil {
					t.Errorf("Email(%q) fold=%v = %q, want an error", tt.in, fold, got)
				}
				checkError(t, err, KindEmail, tt.in)
				continue
			}
			if err != nil || got != want {
				t.Errorf("Email(%q) fold=%v = %q, %v; want %q", tt.in, fold, got, err, want)
			}
		}
	}
}

// checkError checks that err is a normalisation error of kind that does not contain input.
func checkError(t *testing.T, err error, kind Kind, input string) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("error %v for %q does not match ErrInvalid", err, input)
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Errorf("error %v for %q is not an *Error of kind %v", err, input, kind)
	}
	if leaks(err.Error(), input) {
		t.Errorf("error %q contains the input %q", err, input)
	}
}

// leaks reports whether msg shows input, or a telling part of it (its local part or number).
func leaks(msg, input string) bool {
	for _, part := range strings.FieldsFunc(input, func(r rune) bool {
		return strings.ContainsRune(" \t\n@<>\"()+-.:;,", r)
	}) {
		// Short fragments ("nl", "jan", "31") and the URI schemes may occur in any error
		// text by chance.
		if len(part) >= 5 && !strings.EqualFold(part, "mailto") && strings.Contains(msg, part) {
			return true
		}
	}
	return strings.TrimSpace(input) != "" && strings.Contains(msg, strings.TrimSpace(input))
}
