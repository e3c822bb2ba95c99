// etcd-client: the etcd side of bench/log-vs-etcd.sh. Closed-loop clients put 256-byte values
// through etcd's own Go client (clientv3), the same workload kmesos-log benchmark runs, and print
// one line in the same format.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leader returns the endpoint of the current leader, so that puts are not forwarded by a follower
// (the kmesos writer, likewise, is the one proposer).
func leader(endpoints []string, tlsConfig *tls.Config) []string {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, TLS: tlsConfig})
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-client:", err)
		os.Exit(1)
	}
	defer cli.Close()
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cli.Status(ctx, ep)
		cancel()
		if err == nil && st.Header.MemberId == st.Leader {
			return []string{ep}
		}
	}
	fmt.Fprintln(os.Stderr, "etcd-client: no leader among", endpoints)
	os.Exit(1)
	return nil
}

// mutualTLS presents cert/key and trusts only cacert, as the kmesos clients do.
func mutualTLS(cacert, cert, key string) *tls.Config {
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-client:", err)
		os.Exit(1)
	}
	pem, err := os.ReadFile(cacert)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-client:", err)
		os.Exit(1)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		fmt.Fprintln(os.Stderr, "etcd-client: no certificate in", cacert)
		os.Exit(1)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated etcd endpoints")
	clients := flag.Int("clients", 1, "concurrent closed-loop clients")
	ops := flag.Int("ops", 20000, "puts to measure")
	warmup := flag.Int("warmup", 2000, "puts before measuring")
	size := flag.Int("size", 256, "value bytes")
	cacert := flag.String("cacert", "", "with -cert and -key: mutual TLS, trusting this CA (endpoints https://...)")
	cert := flag.String("cert", "", "client certificate (PEM)")
	key := flag.String("key", "", "client key (PEM)")
	flag.Parse()

	var tlsConfig *tls.Config
	if *cacert != "" {
		tlsConfig = mutualTLS(*cacert, *cert, *key)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: leader(strings.Split(*endpoints, ","), tlsConfig),
		DialTimeout: 5 * time.Second, TLS: tlsConfig})
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd-client:", err)
		os.Exit(1)
	}
	defer cli.Close()
	value := make([]byte, *size)
	rand.New(rand.NewSource(42)).Read(value)
	v := string(value)

	run := func(clients, total int, lat []time.Duration) {
		var next int64 = -1
		var wg sync.WaitGroup
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := atomic.AddInt64(&next, 1)
					if i >= int64(total) {
						return
					}
					s := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					_, err := cli.Put(ctx, fmt.Sprintf("bench/%d", i%10000), v)
					cancel()
					if err != nil {
						fmt.Fprintln(os.Stderr, "etcd-client: put failed:", err)
						os.Exit(1)
					}
					lat[i] = time.Since(s)
				}
			}()
		}
		wg.Wait()
	}
	if *warmup > 0 {
		run(min(*clients, *warmup), *warmup, make([]time.Duration, *warmup))
	}
	lat := make([]time.Duration, *ops)
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	t0 := time.Now()
	run(*clients, *ops, lat)
	elapsed := time.Since(t0)
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := time.Duration(r1.Utime.Nano()+r1.Stime.Nano()-r0.Utime.Nano()-r0.Stime.Nano()) * time.Nanosecond
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("etcd clients=%d appends=%d size=%d ops_per_s=%.0f p50_ms=%.3f p99_ms=%.3f client_cpu_us_per_op=%.1f\n",
		*clients, *ops, *size, float64(*ops)/elapsed.Seconds(), float64(lat[*ops/2].Microseconds())/1000,
		float64(lat[*ops*99/100].Microseconds())/1000, float64(cpu.Microseconds())/float64(*ops))
}
