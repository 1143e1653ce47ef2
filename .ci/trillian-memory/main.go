// Command trillian-memory runs a Trillian log server, its admin server and a sequencer in one
// process on one gRPC listener, keeping every tree in memory: the backend Rekor v1 needs, without
// MySQL. It is a test peer for Seal's testbed (internal/testbed.StartRekorV1), built by
// .ci/peers.sh in a throwaway module against github.com/google/trillian v1.7.3; the wiring follows
// Trillian's testonly/integration/logenv.go. Everything is lost when it exits.
//
// Usage:
//
//	trillian-memory --grpc-addr 127.0.0.1:PORT --http-addr 127.0.0.1:PORT [--sequencer-interval 50ms]
//
// The HTTP listener answers GET /healthz with 200 once the gRPC listener is bound, for start-up
// polling. SIGINT or SIGTERM stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/google/trillian"
	"github.com/google/trillian/extension"
	"github.com/google/trillian/log"
	"github.com/google/trillian/monitoring"
	"github.com/google/trillian/quota"
	"github.com/google/trillian/server"
	"github.com/google/trillian/server/admin"
	"github.com/google/trillian/server/interceptor"
	"github.com/google/trillian/storage/memory"
	"github.com/google/trillian/util/clock"
	"google.golang.org/grpc"
)

func main() {
	grpcAddr := flag.String("grpc-addr", "127.0.0.1:8090", "address of the gRPC listener (log and admin APIs)")
	httpAddr := flag.String("http-addr", "127.0.0.1:8091", "address of the HTTP listener serving /healthz")
	interval := flag.Duration("sequencer-interval", 50*time.Millisecond,
		"time between sequencer runs; a Rekor v1 upload waits for the entry to be sequenced")
	batch := flag.Int("batch-size", 100, "most leaves the sequencer integrates per run")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *grpcAddr, *httpAddr, *interval, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "trillian-memory:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, grpcAddr, httpAddr string, interval time.Duration, batch int) error {
	mf := monitoring.InertMetricFactory{}
	ts := memory.NewTreeStorage()
	registry := extension.Registry{
		AdminStorage:  memory.NewAdminStorage(ts),
		LogStorage:    memory.NewLogStorage(ts, mf),
		QuotaManager:  quota.Noop(),
		MetricFactory: mf,
		// No ElectionFactory: the one sequencer is master for every tree.
	}

	gl, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		return fmt.Errorf("listening for gRPC: %w", err)
	}
	hl, err := net.Listen("tcp", httpAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("listening for HTTP: %w", err)
	}

	gs := grpc.NewServer(grpc.UnaryInterceptor(interceptor.ErrorWrapper))
	trillian.RegisterTrillianAdminServer(gs, admin.New(registry, nil))
	trillian.RegisterTrillianLogServer(gs, server.NewTrillianLogRPCServer(registry, clock.System))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}

	seq := log.NewOperationManager(log.OperationInfo{
		Registry:    registry,
		BatchSize:   batch,
		NumWorkers:  1,
		RunInterval: interval,
		TimeSource:  clock.System,
	}, log.NewSequencerManager(registry, 0))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(3)
	go func() {
		defer wg.Done()
		seq.OperationLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		if err := gs.Serve(gl); err != nil {
			errc <- fmt.Errorf("gRPC server: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := hs.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("HTTP server: %w", err)
		}
	}()
	fmt.Fprintf(os.Stderr, "trillian-memory: gRPC on %s, /healthz on %s\n", gl.Addr(), hl.Addr())

	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
	}
	cancel()
	gs.Stop()
	_ = hs.Close()
	wg.Wait()
	return err
}
