package rxws

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

type cloneLeaf struct {
	Tags   []string
	Counts map[string]int
}

type cloneInner struct {
	Labels []string
}

type cloneEmbeds struct {
	cloneInner
	*cloneLeaf
	Name string
}

type cloneSelfRef struct {
	A [1][]int
	P *[1][]int
}

type cloneOrder struct {
	Symbol string
	Leaf   *cloneLeaf
	Any    any
	Grid   [2][]int
	hidden []int
}

// Every payload is copied all the way down: a processor that changes the
// copy anywhere leaves the original as it was.
func TestDeepCopySharesNothing(t *testing.T) {
	cases := []struct {
		name   string
		v      func() any
		mutate func(any)
	}{
		{"map[string]any nested", func() any {
			return map[string]any{"args": []any{"a", map[string]any{"k": "v"}}}
		}, func(c any) {
			m := c.(map[string]any)
			m["args"].([]any)[1].(map[string]any)["k"] = "changed"
			m["args"].([]any)[0] = "changed"
		}},
		{"map[string]int", func() any { return map[string]int{"x": 1} }, func(c any) {
			c.(map[string]int)["x"] = 99
		}},
		{"[]int in map[string]any", func() any { return map[string]any{"ids": []int{1, 2}} }, func(c any) {
			c.(map[string]any)["ids"].([]int)[0] = 99
		}},
		{"map[string]map[string]int", func() any {
			return map[string]map[string]int{"a": {"x": 1}}
		}, func(c any) {
			c.(map[string]map[string]int)["a"]["x"] = 99
		}},
		{"[]string", func() any { return []string{"a"} }, func(c any) { c.([]string)[0] = "changed" }},
		{"[]byte", func() any { return []byte("abc") }, func(c any) { c.([]byte)[0] = 'X' }},
		{"json.RawMessage", func() any { return json.RawMessage(`{"a":1}`) }, func(c any) {
			c.(json.RawMessage)[1] = 'X'
		}},
		{"struct pointer", func() any {
			return &cloneOrder{
				Symbol: "BTC",
				Leaf:   &cloneLeaf{Tags: []string{"t"}, Counts: map[string]int{"n": 1}},
				Any:    map[string]any{"k": "v"},
				Grid:   [2][]int{{1}, {2}},
			}
		}, func(c any) {
			o := c.(*cloneOrder)
			o.Symbol = "changed"
			o.Leaf.Tags[0] = "changed"
			o.Leaf.Counts["n"] = 99
			o.Any.(map[string]any)["k"] = "changed"
			o.Grid[1][0] = 99
		}},
		{"embedded structs of unexported types", func() any {
			return cloneEmbeds{cloneInner{Labels: []string{"t"}}, &cloneLeaf{Counts: map[string]int{"n": 1}}, "x"}
		}, func(c any) {
			e := c.(cloneEmbeds)
			e.Labels[0] = "changed" // promoted: processors reach it
			e.Counts["n"] = 99
		}},
		{"a pointer into its own struct", func() any {
			a := &cloneSelfRef{A: [1][]int{{1}}}
			a.P = &a.A // not a cycle, though its address is the struct's
			return a
		}, func(c any) {
			c.(*cloneSelfRef).P[0][0] = 99
		}},
		{"struct value", func() any {
			return cloneOrder{Leaf: &cloneLeaf{Tags: []string{"t"}}}
		}, func(c any) {
			c.(cloneOrder).Leaf.Tags[0] = "changed"
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			orig, want := tc.v(), tc.v()
			c := Request{Payload: orig}.clone().Payload
			if !reflect.DeepEqual(c, want) {
				t.Fatalf("copy %#v, want %#v", c, want)
			}
			tc.mutate(c)
			if !reflect.DeepEqual(orig, want) {
				t.Fatalf("original changed to %#v", orig)
			}
		})
	}
}

// Unexported fields are copied as they are: the copy has them.
func TestDeepCopyKeepsUnexportedFields(t *testing.T) {
	o := &cloneOrder{hidden: []int{7}}
	c := Request{Payload: o}.clone().Payload.(*cloneOrder)
	if c == o || len(c.hidden) != 1 || c.hidden[0] != 7 {
		t.Fatalf("copy %+v of %+v", c, o)
	}
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if got := (Request{Payload: map[string]any{"t": when}}).clone().Payload.(map[string]any)["t"]; got != when {
		t.Fatalf("time copied as %v, want %v", got, when)
	}
}

// A copy encodes as its original: nil stays null, empty stays [] or {}.
func TestDeepCopyEncodesAsTheOriginal(t *testing.T) {
	for _, v := range []any{
		nil,
		map[string]any(nil),
		map[string]any{},
		[]any(nil),
		[]any{},
		[]string{},
		[]string(nil),
		[]byte{},
		[]byte(nil),
		map[string]int(nil),
		map[string]any{"a": []any{}, "b": []int{}, "c": map[string]int{}, "d": []int(nil)},
		cloneLeaf{},
		&cloneLeaf{Tags: []string{}},
		[3]int{1, 2, 3},
		json.RawMessage(`[1,2]`),
	} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := json.Marshal(Request{Payload: v}.clone().Payload)
		if err != nil || string(got) != string(want) {
			t.Errorf("%#v: copy encodes as %s (%v), want %s", v, got, err, want)
		}
	}
}

// A payload that contains itself is copied in finite time, and the copy
// still has the cycle, for the codec to report as it would the original's.
func TestDeepCopyOfACycleEnds(t *testing.T) {
	m := map[string]any{"a": 1}
	m["self"], m["again"] = m, m
	s := []any{1, nil}
	s[1] = s
	type node struct {
		Next *node
		Kids map[string]*node
	}
	n := &node{Kids: map[string]*node{}}
	n.Next, n.Kids["me"] = n, n
	for _, v := range []any{m, s, n} {
		c := Request{Payload: v}.clone().Payload
		_, err := json.Marshal(c)
		if err == nil || !strings.Contains(err.Error(), "cycle") {
			t.Errorf("%T: encoding the copy gave %v, want a cycle error", v, err)
		}
	}
}

// A shorter slice of the same array inside a slice (s[1] = s[:1]) is a
// tree, not a cycle: it is copied too, so a processor that edits the copy
// leaves the caller's payload alone, and the copy encodes as s does.
func TestDeepCopyOfAShorterSliceOfTheSameArrayIsACopy(t *testing.T) {
	s := make([]any, 2)
	s[0] = "a"
	s[1] = s[:1]
	type node struct {
		Name string
		Kids []node
	}
	ns := make([]node, 2)
	ns[0].Name, ns[1].Name = "leaf", "parent"
	ns[1].Kids = ns[:1]

	c := Request{Payload: s}.clone().Payload.([]any)
	c[1].([]any)[0] = "changed by a processor"
	cn := Request{Payload: ns}.clone().Payload.([]node)
	cn[1].Kids[0].Name = "changed by a processor"
	if s[0] != "a" || ns[0].Name != "leaf" {
		t.Fatalf("the caller's payload changed: %v, %q", s[0], ns[0].Name)
	}
	for _, v := range []any{s, ns} {
		want, _ := json.Marshal(v)
		got, err := json.Marshal(Request{Payload: v}.clone().Payload)
		if err != nil || string(got) != string(want) {
			t.Errorf("the copy encodes as %s (%v), the original as %s", got, err, want)
		}
	}
}
