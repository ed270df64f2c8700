// Package awstest runs moto's server, a real AWS wire-protocol emulator, for
// the integration tests of the AWS adapters: the real aws-sdk-go-v2 talks to
// it over HTTP exactly as it talks to AWS.
//
// moto is a Python package (`pip install "moto[server]"`); .ci/run installs
// it. A test that needs it and cannot start it fails, saying how to install
// it: a skipped integration test would hide that the adapters are untested.
package awstest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Region is the region the tests use; moto accepts any.
const Region = "us-east-1"

// Server is a running moto server on a free loopback port.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123, for AWS_ENDPOINT_URL.
	URL string

	cmd  *exec.Cmd
	logs *lockedBuffer
}

// Start runs moto's server for the test and stops it when the test ends.
// The command is $MOTO_SERVER, else moto_server on the PATH, else
// `python3 -m moto.server` (pip may install the script where PATH does not
// look).
func Start(tb testing.TB) *Server {
	tb.Helper()
	cmd, err := motoCommand()
	if err != nil {
		tb.Fatalf("moto's server is needed for the AWS integration tests: %v\n"+
			"install it with: pip install \"moto[server]==5.2.5\" (or set MOTO_SERVER to its path)", err)
	}
	port, err := freePort()
	if err != nil {
		tb.Fatalf("find a free port for moto: %v", err)
	}
	s := &Server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &lockedBuffer{}}
	s.cmd = exec.Command(cmd[0], append(cmd[1:], "-H", "127.0.0.1", "-p", fmt.Sprint(port))...)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		tb.Fatalf("start moto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- s.cmd.Wait() }()
	tb.Cleanup(func() {
		s.cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			return s
		}
		select {
		case err := <-exited:
			tb.Fatalf("moto exited before answering: %v\n%s", err, s.logs.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("moto did not answer on %s within 30 s\n%s", s.URL, s.logs.String())
		}
	}
}

// Config returns an SDK configuration for the emulator: its endpoint,
// Region, and static test credentials, so that no real credentials are ever
// read by a test.
func (s *Server) Config(tb testing.TB) aws.Config {
	tb.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(Region),
		config.WithBaseEndpoint(s.URL),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
	)
	if err != nil {
		tb.Fatalf("AWS config for moto: %v", err)
	}
	return cfg
}

// Reset drops every resource in the emulator, for tests that share a server.
func (s *Server) Reset(tb testing.TB) {
	tb.Helper()
	resp, err := http.Post(s.URL+"/moto-api/reset", "application/json", strings.NewReader(""))
	if err != nil {
		tb.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("reset moto: status %d", resp.StatusCode)
	}
}

// Logs returns what the server printed, for failure messages.
func (s *Server) Logs() string { return s.logs.String() }

func motoCommand() ([]string, error) {
	if bin := os.Getenv("MOTO_SERVER"); bin != "" {
		path, err := exec.LookPath(bin)
		return []string{path}, err
	}
	if path, err := exec.LookPath("moto_server"); err == nil {
		return []string{path}, nil
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		return nil, fmt.Errorf("neither moto_server nor python3 is on the PATH")
	}
	if out, err := exec.Command(python, "-c", "import moto.server").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("python3 cannot import moto.server: %v: %s", err, bytes.TrimSpace(out))
	}
	return []string{python, "-m", "moto.server"}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
