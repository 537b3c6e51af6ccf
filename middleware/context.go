package middleware

import (
	"context"
	"fmt"
	"net/http"
)

// routedRequest is the copy of a request the splitter hands on, and the
// context that copy carries, in one allocation: r.WithContext(
// context.WithValue(...)) costs two, and this is the splitter's only one.
type routedRequest struct {
	req http.Request
	ctx versionContext
}

// versionContext is context.WithValue(parent, versionKey{}, version) for
// the one key the splitter sets. Deadline, Done, Err and every other value
// come from the parent, so cancellation propagates as with WithValue (the
// context package finds the parent's cancelCtx through Value).
type versionContext struct {
	context.Context
	version string
}

// Value answers the version key and defers every other key to the parent.
func (c *versionContext) Value(key any) any {
	if _, ok := key.(versionKey); ok {
		return boxed(c.version)
	}
	return c.Context.Value(key)
}

// String matches the shape of context.WithValue's, for debugging output.
func (c *versionContext) String() string {
	return fmt.Sprintf("%v.WithValue(middleware.versionKey, %s)", c.Context, c.version)
}

// withVersion returns a shallow copy of r whose context records version.
// WithContext is inlined here, so its own copy stays on the stack and only
// the routedRequest is allocated.
func withVersion(r *http.Request, version string) *http.Request {
	rr := &routedRequest{ctx: versionContext{Context: r.Context(), version: version}}
	rr.req = *r.WithContext(&rr.ctx)
	return &rr.req
}
