package rxws_test

import (
	"context"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// testCtx bounds a test's blocking calls so that a bug fails the test
// instead of hanging it; nothing waits on it to pass time.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// connect starts a server with h and a manager connected to it.
func connect(t *testing.T, h testutil.Handler, opts ...rxws.Option) (*testutil.Server, *rxws.Manager) {
	t.Helper()
	srv := testutil.NewServer(t, h)
	m := rxws.NewManager(nil, opts...)
	if err := m.Connect(testCtx(t), srv.URL); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = m.Disconnect(context.Background()) })
	return srv, m
}

func receive(t *testing.T, m *rxws.Manager) *rxws.Response {
	t.Helper()
	r, err := m.Receive(testCtx(t))
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return r
}

// dataFrames returns the payloads of the data frames connection i received.
func dataFrames(t *testing.T, srv *testutil.Server, i, n int) []string {
	t.Helper()
	c, err := srv.WaitConn(testCtx(t), i)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := c.WaitFrames(testCtx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		if f.IsData() {
			out = append(out, string(f.Data))
		}
	}
	return out
}

func rxgoCtx(ctx context.Context) rxgo.Option { return rxgo.WithContext(ctx) }
