package rollout

import (
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// redactedMark replaces every secret, as url.URL.Redacted marks a password.
const redactedMark = "xxxxx"

// urlInText finds URLs in free text: a scheme, "://", then anything up to
// whitespace or a character that ends a quoted URL (net/http's *url.Error
// quotes the URL it failed on) or '|' (never bare in a URL; Slack's link
// syntax), less trailing punctuation ("at http://h:1: connection refused").
var (
	urlInText = regexp.MustCompile("[a-zA-Z][a-zA-Z0-9+.-]*://[^\\s\"'<>`|]*[^\\s\"'<>`|.,:;!?)]")
	schemeRe  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*$`)
)

// RedactURL returns raw with everything that may be a secret replaced: the
// password of user:password (as url.URL.Redacted does), a user name standing
// alone (the way tokens are put in URLs, https://TOKEN@host), every query
// value (?token=…) and the fragment. What is left — scheme, host, port, path
// and parameter names — is what a person needs to tell which server failed.
// Spec URLs may carry credentials, and every error, status, report, log line
// and notification that names a server must go through this.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Nothing can be said about which part is secret: keep the scheme only.
		if i := strings.Index(raw, "://"); i > 0 && schemeRe.MatchString(raw[:i]) {
			return raw[:i] + "://" + redactedMark
		}
		return redactedMark
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redactedMark)
		} else {
			u.User = url.User(redactedMark)
		}
	}
	if u.RawQuery != "" || u.ForceQuery {
		u.RawQuery = redactQuery(u.RawQuery)
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Opaque != "" {
		// mailto:… and the like: nothing a person needs beyond the scheme.
		u.Opaque = redactedMark
	}
	return u.String()
}

// redactQuery keeps each parameter's name and replaces its value; a bare
// item ("?abcdef") may be the token itself and is replaced whole.
func redactQuery(q string) string {
	parts := strings.FieldsFunc(q, func(r rune) bool { return r == '&' || r == ';' })
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=" + redactedMark
		} else {
			parts[i] = redactedMark
		}
	}
	return strings.Join(parts, "&")
}

// RedactText returns s with every URL in it redacted by RedactURL; other
// text is unchanged. It is for messages built elsewhere (a library's error,
// a server's answer) that may quote a URL.
func RedactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	return urlInText.ReplaceAllStringFunc(s, RedactURL)
}

// minScrubLen is the shortest secret scrubbed wherever it appears in text;
// a shorter one ("?env=1") would mangle ordinary words and numbers, and is
// still hidden inside every URL.
const minScrubLen = 4

// URLSecrets returns the parts of raw that RedactURL hides (password, lone
// user name, query values, fragment), as written and percent-decoded, and
// the Basic credentials net/http derives from user:password.
func URLSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	add := func(v string) {
		for _, s := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if len(s) >= minScrubLen && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			add(p)
			add(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + p)))
		} else {
			add(u.User.Username())
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			add(v)
		}
	}
	add(u.Fragment)
	return out
}

// RedactError returns an error whose message is err's with every URL
// redacted, for errors that may quote a spec URL (net/http's *url.Error
// quotes the URL it failed on, query string and user name included). The
// secrets of each URL in known are also removed wherever they appear, for a
// server that echoes its request back in an answer quoted in the error.
// errors.Is still sees through it, so sentinels such as ErrQueryFailed keep
// working; it does not unwrap, because whatever unwraps an error chain (the
// Temporal SDK records each cause's message in history) would find the
// unredacted text one level down.
func RedactError(err error, known ...string) error {
	return RedactErrorValues(err, nil, known...)
}

// RedactErrorValues is RedactError for a caller that also holds secrets
// outside any URL, such as a bearer token it sends in a header: each of
// values is removed from the message as well (see ScrubValues).
func RedactErrorValues(err error, values []string, known ...string) error {
	if err == nil {
		return nil
	}
	if r, ok := err.(*redactedError); ok && len(known) == 0 && len(values) == 0 {
		return r
	}
	return &redactedError{msg: ScrubValues(Scrub(RedactText(err.Error()), known...), values...), err: err}
}

// ScrubValues returns s with each of values replaced wherever it appears,
// as written and percent-encoded. Values shorter than 4 bytes are left, as
// Scrub leaves them: replacing them would mangle ordinary text.
func ScrubValues(s string, values ...string) string {
	var all []string
	for _, v := range values {
		for _, e := range []string{v, url.QueryEscape(v), url.PathEscape(v)} {
			if len(e) >= minScrubLen && !slices.Contains(all, e) {
				all = append(all, e)
			}
		}
	}
	slices.SortFunc(all, func(a, b string) int { return len(b) - len(a) })
	for _, v := range all {
		s = strings.ReplaceAll(s, v, redactedMark)
	}
	return s
}

// Scrub returns s with every secret of the URLs in known (see URLSecrets)
// replaced, wherever it appears.
func Scrub(s string, known ...string) string {
	for _, k := range known {
		secrets := URLSecrets(k)
		// Longest first, so a secret containing another is replaced whole.
		slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
		for _, sec := range secrets {
			s = strings.ReplaceAll(s, sec, redactedMark)
		}
	}
	return s
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original chain matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
