package rxws_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

const secret = "s3cr3t-TOKEN-9f1c"

// signer is an Auth that puts the secret into the payload, as API-key
// signing schemes do.
type signer struct{}

func (signer) AuthenticateWS(_ context.Context, r rxws.Request) (rxws.Request, error) {
	p := map[string]any{"signature": secret}
	for k, v := range r.Payload.(map[string]any) {
		p[k] = v
	}
	r.Payload = p
	return r, nil
}

// TestLogsAndErrorsKeepSecrets drives every path that logs or fails with a
// secret in the URL's query and userinfo, in the headers and in the auth
// payload, and checks that none of it reaches a log record or an error.
func TestLogsAndErrorsKeepSecrets(t *testing.T) {
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		if _, err := c.Recv(context.Background()); err == nil {
			_ = c.CloseWith(4001, "session expired")
		}
	})
	log, buf := newLogger()
	m := rxws.NewManager(nil, rxws.WithLogger(log), rxws.WithAuth(signer{}))
	ctx := testCtx(t)
	url := srv.URL + "/feed?apikey=" + secret + "&x=1#" + secret
	headers := rxws.WithHeaders(http.Header{"Authorization": {"Bearer " + secret}, "X-Api-Key": {secret}})
	var errs []error

	srv.RefuseNext(1, http.StatusUnauthorized, "bad key")
	errs = append(errs, m.Connect(ctx, url, headers))

	items := m.Messages().Observe()
	if err := m.Connect(ctx, url, headers); err != nil {
		t.Fatal(err)
	}
	if err := m.Send(ctx, rxws.Request{Kind: rxws.KindJSON, Payload: map[string]any{"op": "login"}, AuthRequired: true}); err != nil {
		t.Fatal(err)
	}
	for it := range items {
		if it.E != nil {
			errs = append(errs, it.E)
		}
	}
	errs = append(errs, m.Send(ctx, rxws.TextRequest("after")))

	silent := testutil.NewRawServer(t, func(c *testutil.RawConn) { <-c.Done() })
	errs = append(errs, m.Connect(ctx, silent.URL+"/?token="+secret, rxws.WithHandshakeTimeout(20*time.Millisecond)))
	errs = append(errs, m.Connect(ctx, "wss://u:"+secret+"@127.0.0.1:1/?k="+secret))
	errs = append(errs, m.Connect(ctx, strings.Replace(srv.URL, "ws://", "ws://u:"+secret+"@", 1)))
	errs = append(errs, m.Connect(ctx, "ws:u:"+secret+"@127.0.0.1/?k="+secret))

	// The secrets did travel where they belong.
	req := srv.Conn(0).Request()
	if req.Header.Get("X-Api-Key") != secret || !strings.Contains(req.URL.RawQuery, secret) {
		t.Fatal("the server did not get the credentials")
	}
	if got := dataFrames(t, srv, 0, 1); !strings.Contains(got[0], secret) {
		t.Fatal("the auth did not sign the request")
	}

	var ce *rxws.CloseError
	var he *rxws.HandshakeError
	if !errors.As(errs[0], &he) || !errors.As(errs[1], &ce) || ce.Code != 4001 || !errors.Is(errs[3], rxws.ErrHandshakeTimeout) {
		t.Fatalf("errors: %v", errs)
	}
	for i, err := range errs {
		if err == nil {
			t.Fatalf("error %d is nil", i)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %d leaks: %v", i, err)
		}
	}
	logged := buf.String()
	if strings.Contains(logged, secret) {
		t.Errorf("the log leaks:\n%s", logged)
	}
	for _, want := range []string{"rxws: connect failed", "rxws: connected", "rxws: connection lost", `"code":4001`} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log lacks %q:\n%s", want, logged)
		}
	}
	t.Logf("errors: %v\nlog:\n%s", errs, logged)
}

// TestSilentByDefault: without WithLogger nothing reaches slog's default
// logger (nor, through it, the log package).
func TestSilentByDefault(t *testing.T) {
	log, buf := newLogger()
	old := slog.Default()
	slog.SetDefault(log)
	t.Cleanup(func() { slog.SetDefault(old) })

	srv := testutil.NewServer(t, testutil.Stream([][]byte{[]byte("x")}))
	srv.RefuseNext(1, http.StatusForbidden, "no")
	m := rxws.NewManager(nil)
	ctx := testCtx(t)
	if err := m.Connect(ctx, srv.URL); err == nil {
		t.Fatal("refusal not reported")
	}
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	for range m.IterMessages(ctx) {
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); s != "" {
		t.Fatalf("logged without a logger:\n%s", s)
	}
}
