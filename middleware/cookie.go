package middleware

import (
	"net/http"
	"net/textproto"
	"strings"
)

// maxCookies mirrors net/http's default limit (httpcookiemaxnum): a request
// carrying more cookies than this has all of them ignored by
// http.Request.Cookie, and the splitter must not see a forcing cookie there
// that the rest of an application using r.Cookie would not.
const maxCookies = 3000

// cookieValue returns the value http.Request.Cookie(name) would, without
// parsing every cookie into a *http.Cookie: the splitter and feature flags
// look one name up on every request, and the full parse allocates a slice
// and a struct per cookie. Only the first cookie with that name and a
// well-formed value counts, surrounding double quotes are removed, and a
// malformed pair is skipped, exactly as net/http does.
func cookieValue(r *http.Request, name string) string {
	lines := r.Header["Cookie"]
	if name == "" || len(lines) == 0 {
		return ""
	}
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxCookies {
		return ""
	}
	for _, line := range lines {
		if v, ok := scanCookieLine(line, name); ok {
			return v
		}
	}
	return ""
}

// scanCookieLine looks for name in one Cookie header line. Pairs are split
// on ';' alone (quotes do not protect one), so the pairs before the one that
// holds the first occurrence of name cannot match and are skipped unparsed:
// most requests carry cookies, few carry this one.
func scanCookieLine(line, name string) (string, bool) {
	i := strings.Index(line, name)
	if i < 0 {
		return "", false
	}
	if j := strings.LastIndexByte(line[:i], ';'); j >= 0 {
		line = line[j+1:]
	}
	line = textproto.TrimString(line)
	for line != "" {
		var part string
		part, line, _ = strings.Cut(line, ";")
		part = textproto.TrimString(part)
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if textproto.TrimString(k) != name || !isToken(name) {
			continue
		}
		if v, ok := cookieValueBytes(v); ok {
			return v, true
		}
	}
	return "", false
}

// cookieValueBytes strips one pair of surrounding double quotes and refuses
// a value with a byte RFC 6265 does not allow (controls, space is allowed by
// net/http, '"', ';', '\\', non-ASCII).
func cookieValueBytes(v string) (string, bool) {
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	for i := 0; i < len(v); i++ {
		b := v[i]
		if b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return "", false
		}
	}
	return v, true
}

// isToken reports whether s is an RFC 7230 token, which is what net/http
// requires of a cookie name before it matches it.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
