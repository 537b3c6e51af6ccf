package middleware

import (
	"net/http"
	"strconv"
)

// methodNames are the method label values; the last is "other". Series are
// cached by index into it.
var methodNames = [...]string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace, LabelOther,
}

// methodIndex keeps the method label bounded: a client can send any token as
// a method, and each distinct one would otherwise be a new series.
func methodIndex(m string) int {
	switch m {
	case http.MethodGet:
		return 0
	case http.MethodHead:
		return 1
	case http.MethodPost:
		return 2
	case http.MethodPut:
		return 3
	case http.MethodPatch:
		return 4
	case http.MethodDelete:
		return 5
	case http.MethodConnect:
		return 6
	case http.MethodOptions:
		return 7
	case http.MethodTrace:
		return 8
	}
	return len(methodNames) - 1
}

func methodLabel(m string) string { return methodNames[methodIndex(m)] }

// codeLabels holds "100".."599" so labelling a response does not allocate.
var codeLabels = func() []string {
	out := make([]string, 600)
	for i := 100; i < len(out); i++ {
		out[i] = strconv.Itoa(i)
	}
	return out
}()

// codeLabel renders a status code; net/http only allows three-digit codes,
// so the label set is bounded even past 599.
func codeLabel(code int) string {
	if code >= 100 && code < len(codeLabels) {
		return codeLabels[code]
	}
	return strconv.Itoa(code)
}
