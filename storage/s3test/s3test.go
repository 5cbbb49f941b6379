// Package s3test starts a real S3-compatible server (versitygw) on loopback
// for tests and benchmarks.
//
// The binary is found through $MEDIAPREP_VERSITYGW, $PATH, or Go's bin folder
// ($GOBIN, $GOPATH/bin, ~/go/bin); scripts/deps.sh test installs it there
// with `go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`.
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaprep/mediaprep/storage"
)

// Credentials of the server's root user.
const (
	AccessKey = "mediaprep-test"
	SecretKey = "mediaprep-test-secret"
)

// Server is a running versitygw serving a folder.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	Bucket   string // created by Start
	Dir      string // the folder buckets live in

	t    testing.TB
	bin  string
	addr string
	args []string
	cmd  *exec.Cmd
	done chan struct{}
}

// Options configure StartWith.
type Options struct {
	Dir  string   // the folder buckets live in; default a test temp dir
	Args []string // global versitygw flags, placed before posix (e.g. --event-nats-url)
}

// Binary returns the path of the versitygw binary, or an error saying how
// to install it.
func Binary() (string, error) {
	if p := os.Getenv("MEDIAPREP_VERSITYGW"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found: run scripts/deps.sh test (it runs go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
}

// Start starts versitygw on a free loopback port with a fresh folder,
// creates a bucket, and stops the server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn is Start with the buckets in dir (e.g. a folder in /dev/shm, so
// that a benchmark measures the client rather than the disk).
func StartIn(t testing.TB, dir string) *Server {
	t.Helper()
	return StartWith(t, Options{Dir: dir})
}

// StartWith is Start with options; Restart keeps them.
func StartWith(t testing.TB, opt Options) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping a test that needs versitygw (make test runs it)")
	}
	if opt.Dir == "" {
		opt.Dir = t.TempDir()
	}
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{
		Endpoint: "http://" + addr,
		Bucket:   "media",
		Dir:      opt.Dir,
		t:        t,
		bin:      bin,
		addr:     addr,
		args:     slices.Clone(opt.Args),
	}
	s.start()
	t.Cleanup(s.Stop)
	if _, err := s.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(s.Bucket)}); err != nil {
		t.Fatalf("s3test: create bucket: %v", err)
	}
	return s
}

func (s *Server) start() {
	s.t.Helper()
	args := append([]string{"--port", s.addr, "--health", "/health"}, s.args...)
	cmd := exec.Command(s.bin, append(args, "posix", s.Dir)...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+AccessKey, "ROOT_SECRET_ACCESS_KEY="+SecretKey)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("s3test: start versitygw: %v", err)
	}
	s.cmd = cmd
	s.done = make(chan struct{})
	go func() { _ = cmd.Wait(); close(s.done) }() // killed on Stop: its exit status says nothing
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.Endpoint + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-s.done:
			s.t.Fatalf("s3test: versitygw exited: %s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			s.t.Fatalf("s3test: versitygw not healthy after 30 s: %s", out.String())
		}
	}
}

// Stop stops the server; the folder and port stay for Restart.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM) // the wait below tells whether it went
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
	s.cmd = nil
}

// Restart starts a stopped server again on the same port and folder.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd == nil {
		s.start()
	}
}

// Config returns a storage configuration for this server's bucket.
func (s *Server) Config() storage.Config {
	cfg := storage.NewDefaultConfig()
	cfg.Endpoint = s.Endpoint
	cfg.Bucket = s.Bucket
	cfg.PathStyle = true
	cfg.Credentials = credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")
	return cfg
}

// Env returns the environment variables that point cmd/mediaprep at this
// server (the standard AWS variables for the credentials).
func (s *Server) Env() []string {
	return []string{
		"MEDIAPREP_S3_ENDPOINT=" + s.Endpoint,
		"MEDIAPREP_S3_BUCKET=" + s.Bucket,
		"MEDIAPREP_S3_REGION=us-east-1",
		"MEDIAPREP_S3_PATH_STYLE=true",
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
	}
}

// Client returns a plain S3 client for this server, for assertions.
func (s *Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(s.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}
