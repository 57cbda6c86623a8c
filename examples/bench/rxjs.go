package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// rxjsResult is the optional peer row: RxJS webSocket() on Node running
// stream-typed against the same server.
type rxjsResult struct {
	Node     string    `json:"node"`
	Rate     float64   `json:"msgs_per_s"`
	Rounds   []float64 `json:"rounds"`
	VsRxpype float64   `json:"rxpype_over_rxjs,omitempty"` // rxpype stream-typed / RxJS
}

// rxjsDir is where `npm install` puts the peer's packages.
var rxjsDir = filepath.Join("examples", "bench", "rxjs")

// rxjsAvailable reports the Node version when node and the peer's packages
// (rxjs, ws) are installed; otherwise why not.
func rxjsAvailable() (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found")
	}
	for _, pkg := range []string{"rxjs", "ws"} {
		if _, err := os.Stat(filepath.Join(rxjsDir, "node_modules", pkg)); err != nil {
			return "", fmt.Errorf("%s not installed (cd %s && npm install)", pkg, rxjsDir)
		}
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("node --version: %v", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// rxjsStream runs one stream-typed pass of the RxJS client as a child
// process and returns its messages per second.
func rxjsStream(ctx context.Context, url string, n int) (float64, error) {
	cmd := exec.CommandContext(ctx, "node", filepath.Join(rxjsDir, "client.js"), url, fmt.Sprint(n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("rxjs client: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var r struct {
		Msgs int     `json:"msgs"`
		Rate float64 `json:"rate"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, fmt.Errorf("rxjs client output %q: %v", out, err)
	}
	if r.Msgs != n {
		return 0, fmt.Errorf("rxjs client: %d messages, want %d", r.Msgs, n)
	}
	return r.Rate, nil
}
