package mbox

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// htmlToText renders HTML as readable text: tags dropped, entities decoded, whitespace
// collapsed except in <pre>, line breaks kept for <br> and block elements, and the contents
// of <head>, <script> and <style> left out.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip, pre := 0, 0
	space := false // a collapsed space is pending
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyLines(b.String())
		case html.TextToken:
			if skip > 0 {
				continue
			}
			text := string(z.Text())
			if pre > 0 {
				b.WriteString(text)
				continue
			}
			if startsWithSpace(text) {
				space = true
			}
			for i, f := range strings.FieldsFunc(text, isHTMLSpace) {
				if (i > 0 || space) && b.Len() > 0 && !strings.ContainsRune(" \n\t", rune(b.String()[b.Len()-1])) {
					b.WriteByte(' ')
				}
				b.WriteString(f)
				space = false
			}
			if endsWithSpace(text) {
				space = true
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			start := tt != html.EndTagToken
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title:
				if tt == html.StartTagToken {
					skip++
				} else if tt == html.EndTagToken && skip > 0 {
					skip--
				}
			case atom.Body: // a <head> left open ends here
				skip = 0
			case atom.Pre:
				if tt == html.StartTagToken {
					pre++
				} else if tt == html.EndTagToken && pre > 0 {
					pre--
				}
				b.WriteByte('\n')
			case atom.Br:
				b.WriteByte('\n')
			case atom.P, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6, atom.Blockquote, atom.Table, atom.Ul, atom.Ol, atom.Hr:
				b.WriteString("\n\n")
			case atom.Div, atom.Tr, atom.Dt, atom.Dd, atom.Section, atom.Article, atom.Header, atom.Footer:
				b.WriteByte('\n')
			case atom.Li:
				if start {
					b.WriteString("\n- ")
				}
			case atom.Td, atom.Th:
				if !start {
					b.WriteByte('\t')
				}
			}
			if a != 0 && a != atom.A && a != atom.B && a != atom.I && a != atom.Span && a != atom.Strong && a != atom.Em && a != atom.Font && a != atom.U {
				space = false
			}
		}
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0'
}

func startsWithSpace(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isHTMLSpace(r)
}

func endsWithSpace(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isHTMLSpace(r)
}

// tidyLines trims the spaces at the ends of lines, keeps at most one empty line in a row,
// and trims the text.
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	empty := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\r\u00a0")
		if l == "" {
			empty++
			if empty > 1 {
				continue
			}
		} else {
			empty = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

// unflow undoes RFC 3676 format=flowed: a line ending in a space continues on the next line
// of the same quote depth; space-stuffing is removed. With delsp the trailing space goes too.
func unflow(s string, delsp bool) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	var b strings.Builder
	open := false // the previous line was flowed
	prevDepth := 0
	for _, l := range lines {
		depth := 0
		for depth < len(l) && l[depth] == '>' {
			depth++
		}
		text := l[depth:]
		text = strings.TrimPrefix(text, " ")
		if open && depth != prevDepth {
			b.WriteByte('\n')
			open = false
		}
		if !open && depth > 0 {
			b.WriteString(strings.Repeat(">", depth) + " ")
		}
		flowed := strings.HasSuffix(text, " ") && text != "-- "
		if flowed && delsp {
			text = text[:len(text)-1]
		}
		b.WriteString(text)
		if !flowed {
			b.WriteByte('\n')
		}
		open, prevDepth = flowed, depth
	}
	return strings.TrimSuffix(b.String(), "\n")
}
