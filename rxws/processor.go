package rxws

import "context"

// PreProcessor changes a request on its way out, before auth and the
// throttler. An error stops the send: nothing is written, and Send returns it.
// It may Ping, but a Send from it cannot go out before the send it prepares:
// it waits until its ctx ends, and fails with ctx's error. Its ctx is the
// sender's, and also ends when the connection does; to Disconnect from it,
// pass that ctx (see Manager.Disconnect).
type PreProcessor interface {
	// PreProcess returns the request to send in req's place.
	PreProcess(ctx context.Context, req Request) (Request, error)
}

// PostProcessor changes a response on its way in. Returning nil, nil drops
// the message; an error becomes an error item in the stream, which goes on.
// It runs in the connection's reader goroutine, and its ctx ends when the
// connection does; to Disconnect from it, pass that ctx (see
// Manager.Disconnect).
type PostProcessor interface {
	// PostProcess returns the response to pass on in resp's place, or nil.
	PostProcess(ctx context.Context, resp *Response) (*Response, error)
}

// PreProcessorFunc adapts a function to PreProcessor.
type PreProcessorFunc func(ctx context.Context, req Request) (Request, error)

// PreProcess calls f.
func (f PreProcessorFunc) PreProcess(ctx context.Context, req Request) (Request, error) {
	return f(ctx, req)
}

// PostProcessorFunc adapts a function to PostProcessor.
type PostProcessorFunc func(ctx context.Context, resp *Response) (*Response, error)

// PostProcess calls f.
func (f PostProcessorFunc) PostProcess(ctx context.Context, resp *Response) (*Response, error) {
	return f(ctx, resp)
}

// Auth signs requests that have AuthRequired set, after the pre-processors.
// An error stops the send: nothing is written. Its ctx is the
// pre-processors' (see PreProcessor).
type Auth interface {
	// AuthenticateWS returns req signed, to be sent in its place.
	AuthenticateWS(ctx context.Context, req Request) (Request, error)
}

// AuthFunc adapts a function to Auth.
type AuthFunc func(ctx context.Context, req Request) (Request, error)

// AuthenticateWS calls f.
func (f AuthFunc) AuthenticateWS(ctx context.Context, req Request) (Request, error) {
	return f(ctx, req)
}
