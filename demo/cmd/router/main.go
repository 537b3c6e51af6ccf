// Command router runs the demo's local traffic router (see package
// demo/router): a weighted reverse proxy to a stable and a canary backend,
// whose weight canaryflow moves through the admin listener.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/canaryflow/canaryflow/demo/router"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		slog.Error("router failed", "err", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "public address, proxied to stable or canary")
	adminAddr := fs.String("admin-addr", "127.0.0.1:8090", "admin address: GET/PUT /weight, /healthz, /metrics")
	stable := fs.String("stable", "", "stable backend base URL, such as http://127.0.0.1:8081 (required)")
	canary := fs.String("canary", "", "canary backend base URL, such as http://127.0.0.1:8082 (required)")
	weight := fs.Int("weight", 0, "initial canary weight, 0..100")
	maxWeight := fs.Int("max-weight", 100, "weights above this are refused with 422 (to simulate a refusing router)")
	header := fs.String("header", "X-Canary", "header that forces routing with always|never")
	cookie := fs.String("cookie", "canary", "cookie that forces routing with always|never")
	sticky := fs.Bool("sticky", false, "pin users to the version the weight first chose, with the cookie")
	routes := fs.String("routes", strings.Join(router.DefaultRoutes, ","), "comma-separated route patterns for metric labels")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parsing flags: %w", err)
	}

	r, err := router.New(router.Config{
		Stable:    *stable,
		Canary:    *canary,
		Weight:    *weight,
		MaxWeight: maxWeight,
		Header:    *header,
		Cookie:    *cookie,
		Sticky:    *sticky,
		Routes:    splitList(*routes),
	})
	if err != nil {
		return fmt.Errorf("configuring router: %w", err)
	}
	public, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on public address: %w", err)
	}
	admin, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		_ = public.Close()
		return fmt.Errorf("listening on admin address: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return r.Serve(ctx, public, admin)
}

func splitList(s string) []string {
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
