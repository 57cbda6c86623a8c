package rxws

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rxpype/rxpype/internal/testutil"
)

// A Factory holds a Manager only from Connect to the stream's end, so that
// the managers a long-lived Factory made and the caller dropped can be
// collected; it still refuses their Connect once closed.
func TestAFactoryHoldsItsManagersOnlyWhileConnected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv := testutil.NewServer(t, testutil.Hold)
	f := NewFactory(nil)
	held := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.live)
	}
	m, err := f.WSManager()
	if err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Fatalf("a manager never connected is held (%d)", n)
	}
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	if err := m.Connect(ctx, srv.URL); !errors.Is(err, ErrAlreadyConnected) {
		t.Fatal(err)
	}
	if n := held(); n != 1 {
		t.Fatalf("connected: %d held, want 1", n)
	}
	if err := m.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	if n := held(); n != 0 {
		t.Fatalf("after Disconnect: %d held, want 0", n)
	}

	// A bad URL, a refused handshake, and a connection the server ends.
	if err := m.Connect(ctx, "http://127.0.0.1/"); !errors.Is(err, ErrBadURL) || held() != 0 {
		t.Fatalf("bad URL: %v, %d held", err, held())
	}
	srv.RefuseNext(1, 403, "no")
	if err := m.Connect(ctx, srv.URL); err == nil || held() != 0 {
		t.Fatalf("refused: %v, %d held", err, held())
	}
	if err := m.Connect(ctx, srv.URL); err != nil {
		t.Fatal(err)
	}
	c, err := srv.WaitConn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.CloseWith(4000, "bye")
	for range m.IterMessages(ctx) { // until the stream's end
	}
	if n := held(); n != 0 {
		t.Fatalf("after the server ended the stream: %d held, want 0", n)
	}

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Connect(ctx, srv.URL); !errors.Is(err, ErrFactoryClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
}
