// goserve: a small HTTP server for the unikernel proof tests.
//
//	goserve [PORT]
//
// Endpoints: / (a greeting), /sum?n=N (1+...+N computed by goroutines that
// meet on a channel), /big (1 MiB of a fixed pattern), /quit (answers, then
// exits with status 0).  Prints "listening on :PORT" when ready.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

func sum(n int64) int64 {
	const workers = 4
	parts := make(chan int64, workers)
	var wg sync.WaitGroup
	for w := int64(0); w < workers; w++ {
		wg.Add(1)
		go func(w int64) {
			defer wg.Done()
			var s int64
			for i := w + 1; i <= n; i += workers {
				s += i
			}
			parts <- s
		}(w)
	}
	wg.Wait()
	close(parts)
	var total int64
	for s := range parts {
		total += s
	}
	return total
}

func main() {
	port := "8080"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte('a' + i%26)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from Go: %s\n", r.URL.Path)
	})
	mux.HandleFunc("/sum", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bad n", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "sum(1..%d) = %d\n", n, sum(n))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(big)
	})
	mux.HandleFunc("/quit", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "bye")
		go func() {
			time.Sleep(100 * time.Millisecond)
			os.Exit(0)
		}()
	})
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goserve:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on :%s\n", port)
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "goserve:", err)
		os.Exit(1)
	}
}
