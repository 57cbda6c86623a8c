package source_test

import (
	"context"
	"fmt"

	"github.com/rxpype/rxpype/source"
)

// Two subscribers of one Subject: a lossless one, and a small one that keeps
// only the newest items when it falls behind. Neither slows the other.
func ExampleSubject() {
	ctx := context.Background()
	s := source.NewSubject[int]()
	all := s.Subscribe(source.Config{Name: "all"})
	latest := s.Subscribe(source.Config{Name: "latest", Buffer: 2, Policy: source.DropOldest})
	for i := 1; i <= 5; i++ {
		_ = s.Publish(ctx, i)
	}
	s.Close(nil) // subscribers get what is buffered, then io.EOF

	for _, sub := range []*source.Subscription[int]{all, latest} {
		var got []int
		for {
			v, err := sub.Next(ctx)
			if err != nil {
				break
			}
			got = append(got, v)
		}
		st := sub.Stats()
		fmt.Printf("%s: %v (dropped %d)\n", st.Name, got, st.Dropped)
	}
	// Output:
	// all: [1 2 3 4 5] (dropped 0)
	// latest: [4 5] (dropped 3)
}
