package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// findRxjsDir returns the peer's directory (client.js, and the node_modules
// that `npm install` puts there): -rxjs-dir when given; else
// examples/bench/rxjs below the working directory (go run from the repo's
// root); else the rxjs directory beside this source file, so that a binary
// built from a checkout finds it from any working directory.
func findRxjsDir(flagDir string) string {
	if flagDir != "" {
		return flagDir
	}
	dirs := []string{filepath.Join("examples", "bench", "rxjs")}
	if _, file, _, ok := runtime.Caller(0); ok {
		dirs = append(dirs, filepath.Join(filepath.Dir(file), "rxjs"))
	}
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "client.js")); err == nil {
			return d
		}
	}
	return dirs[len(dirs)-1]
}

// rxjsAvailable reports the Node version when node and the peer's packages
// (rxjs, ws) are installed in dir; otherwise why not.
func rxjsAvailable(dir string) (string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", fmt.Errorf("node not found")
	}
	for _, pkg := range []string{"rxjs", "ws"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			return "", fmt.Errorf("%s not installed in %s (cd there && npm install, or give -rxjs-dir)", pkg, dir)
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
func rxjsStream(ctx context.Context, dir, url string, n int) (float64, error) {
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "client.js"), url, fmt.Sprint(n))
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
