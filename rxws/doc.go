// Package rxws is a WebSocket client built as reactive streams: the Go
// counterpart of networkpype's WebSocketManager.
//
// A Manager owns one connection at a time. Incoming frames are a hot
// Observable (Messages) that many observers share, with the post-processors
// fused into the read loop; outgoing requests pass the pre-processors, auth
// and the throttler on their way to the socket. The socket has one writer
// and one reader at a time: usually the writer and reader goroutines, but a
// Send with nothing queued and no throttler writes in the caller's
// goroutine, and a Receive whose context never ends may read there, to save
// a hand-off. One Clock, from an option, drives every timer, so tests move
// time by hand.
//
// The zero value of Manager is not usable: make one with NewManager or a
// Factory. Every blocking method takes a context, except Factory.Close,
// which disconnects its managers with context.Background().
package rxws
