package rxws_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/reactivex/rxgo/v2"
	"github.com/rxpype/rxpype/internal/testutil"
	"github.com/rxpype/rxpype/rxws"
)

// TestSoakReconnectingManagers runs 20 managers against a server that drops
// each connection after a few hundred messages. Every message carries its
// connection and sequence number: within a connection nothing repeats or
// goes backwards, and every connection after the first is announced by a
// reconnect state. Real clock, millisecond backoff; bounded well under 30 s.
func TestSoakReconnectingManagers(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	const managers, conns, perConn = 20, 5, 300
	var mu sync.Mutex
	seen := map[string]int{} // client -> connections so far
	srv := testutil.NewServer(t, func(c *testutil.Conn) {
		client := c.Request().Header.Get("X-Client")
		mu.Lock()
		n := seen[client]
		seen[client]++
		mu.Unlock()
		if _, err := c.Recv(context.Background()); err != nil { // the subscription
			return
		}
		for seq := range perConn {
			if c.SendText(fmt.Sprintf("%d:%d", n, seq)) != nil {
				return
			}
		}
		if n < conns-1 {
			c.Drop()
			return
		}
		<-c.Done() // the last connection stays up until the client leaves
	})
	b := rxws.Backoff{Initial: time.Millisecond, Max: 5 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, managers)
	for i := range managers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- soakOne(ctx, srv.URL, i, b, conns, perConn)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func soakOne(ctx context.Context, url string, id int, b rxws.Backoff, conns, perConn int) error {
	m := rxws.NewManager(nil)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	states := m.States(rxgo.WithContext(sctx)).Observe()
	counted := make(chan int)
	go func() {
		reconnects := 0
		for item := range states {
			st := item.V.(rxws.State)
			if st.Kind == rxws.StateConnected && st.Downtime > 0 {
				reconnects++
			}
			if st.Kind == rxws.StateDisconnected {
				break // Disconnect's: every earlier state has been seen
			}
		}
		counted <- reconnects
		for range states { // drain until stop
		}
	}()
	hdr := map[string][]string{"X-Client": {fmt.Sprint(id)}}
	if err := m.Connect(ctx, url, rxws.WithReconnect(b), rxws.WithHeaders(hdr)); err != nil {
		return err
	}
	defer m.Disconnect(context.Background())
	if err := m.Subscribe(ctx, rxws.TextRequest("subscribe")); err != nil {
		return err
	}
	last := map[int]int{}
	total := 0
	for r, err := range m.IterMessages(ctx) {
		if err != nil {
			return fmt.Errorf("manager %d: %w", id, err)
		}
		var conn, seq int
		if _, err := fmt.Sscanf(r.Data().(string), "%d:%d", &conn, &seq); err != nil {
			return err
		}
		if prev, ok := last[conn]; ok && seq <= prev {
			return fmt.Errorf("manager %d: connection %d: seq %d after %d", id, conn, seq, prev)
		}
		last[conn] = seq
		if total++; total == conns*perConn {
			break
		}
	}
	_ = m.Disconnect(ctx)
	reconnects := <-counted
	stop()
	if reconnects != conns-1 || len(last) != conns {
		return fmt.Errorf("manager %d: %d reconnects and %d connections seen, want %d and %d", id, reconnects, len(last), conns-1, conns)
	}
	if ctx.Err() != nil {
		return errors.New("soak ran out of time")
	}
	return nil
}
