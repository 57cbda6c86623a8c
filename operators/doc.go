// Package operators holds generic operators for rxgo v2 pipelines: fused
// ordered chains and throttling. It knows nothing of WebSockets.
package operators
