package storage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mediaprep/mediaprep/storage"
	"github.com/mediaprep/mediaprep/storage/s3test"
)

// uploadHelperEnv makes TestUploadHelper upload one file, in a process of
// its own so that its peak RSS can be read: "mediaprep" through Store.Put,
// "bare" through the SDK's transfer manager alone.
const uploadHelperEnv = "MEDIAPREP_UPLOAD_HELPER"

type uploadJob struct {
	Mode, File, Endpoint, Bucket, Key string
	PartSize                          int64
	Concurrency                       int
}

// TestUploadHelper is not a test: BenchmarkUpload runs this test binary
// with uploadHelperEnv set, and then it uploads one file.
func TestUploadHelper(t *testing.T) {
	spec := os.Getenv(uploadHelperEnv)
	if spec == "" {
		t.Skip("run by BenchmarkUpload")
	}
	var j uploadJob
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(j.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	ctx := context.Background()
	creds := credentials.NewStaticCredentialsProvider(s3test.AccessKey, s3test.SecretKey, "")
	switch j.Mode {
	case "mediaprep":
		cfg := storage.NewDefaultConfig()
		cfg.Endpoint, cfg.Bucket, cfg.PathStyle, cfg.Credentials = j.Endpoint, j.Bucket, true, creds
		cfg.PartSize, cfg.Concurrency = j.PartSize, j.Concurrency
		st, err := storage.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Put(ctx, j.Key, f, storage.Object{ContentType: "video/mp4", Size: fi.Size(), FileName: "big.mp4"}); err != nil {
			t.Fatal(err)
		}
	case "bare":
		client := s3.New(s3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(j.Endpoint), UsePathStyle: true, Credentials: creds,
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
			ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		})
		tm := transfermanager.New(client, func(o *transfermanager.Options) {
			o.PartSizeBytes, o.Concurrency = j.PartSize, j.Concurrency
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		})
		if _, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(j.Bucket), Key: aws.String(j.Key), Body: f, ContentType: aws.String("video/mp4"),
		}); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown mode %q", j.Mode)
	}
}

// BenchmarkUpload: a 500 MB file into versitygw on loopback (its files in
// /dev/shm when there is one), mediaprep's Store.Put against the SDK's bare
// transfer-manager upload with the same part size and concurrency, each in
// its own process, alternated and taking turns to go first.
// Targets: throughput ratio ≥ 0.8, mediaprep's peak RSS ≤ 64 MB above its
// part buffers (part size × concurrency).
func BenchmarkUpload(b *testing.B) {
	const size = 500 << 20
	src := bigFile(b, filepath.Join("..", "testdata", "gen", "upload-500MB.bin"), size)
	// The server keeps its files in memory when it can: the disk of a
	// shared machine varies far more from run to run than the clients do.
	dir := b.TempDir()
	if shm, err := os.MkdirTemp("/dev/shm", "mediaprep-bench-"); err == nil {
		dir = shm
		b.Cleanup(func() { os.RemoveAll(shm) })
	}
	srv := s3test.StartIn(b, dir)
	def := storage.NewDefaultConfig()
	// Read the file once so both sides find it in the page cache: else the
	// first upload of the run pays for the disk alone.
	if f, err := os.Open(src); err == nil {
		_, _ = io.Copy(io.Discard, f) // warming the page cache only
		f.Close()
	}
	var mine, ref time.Duration
	var mineRSS, refRSS int64
	i := 0
	for b.Loop() {
		modes := []string{"mediaprep", "bare"}
		if i%4 == 2 { // alternate which goes first
			modes[0], modes[1] = modes[1], modes[0]
		}
		for _, mode := range modes {
			i++
			d, rss := runUpload(b, uploadJob{Mode: mode, File: src, Endpoint: srv.Endpoint, Bucket: srv.Bucket,
				Key: fmt.Sprintf("bench/%s-%d.bin", mode, i), PartSize: def.PartSize, Concurrency: def.Concurrency})
			if mode == "mediaprep" {
				mine += d
				mineRSS = max(mineRSS, rss)
			} else {
				ref += d
				refRSS = max(refRSS, rss)
			}
		}
		// Keep the server's space use flat.
		os.RemoveAll(filepath.Join(srv.Dir, srv.Bucket, "bench"))
	}
	buffers := def.PartSize * int64(def.Concurrency)
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(size)/(1<<20)/(mine.Seconds()/float64(b.N)), "mediaprep-MB/s")
	b.ReportMetric(float64(size)/(1<<20)/(ref.Seconds()/float64(b.N)), "bare-MB/s")
	b.ReportMetric(ref.Seconds()/mine.Seconds(), "throughput-ratio")
	b.ReportMetric(mb(mineRSS), "mediaprep-peak-MB")
	b.ReportMetric(mb(refRSS), "bare-peak-MB")
	b.ReportMetric(mb(mineRSS-buffers), "mediaprep-above-buffers-MB")
}

func runUpload(b *testing.B, j uploadJob) (time.Duration, int64) {
	b.Helper()
	spec, _ := json.Marshal(j)
	cmd := exec.Command(os.Args[0], "-test.run=^TestUploadHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), uploadHelperEnv+"="+string(spec))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s upload: %v\n%s", j.Mode, err, out.String())
	}
	return time.Since(start), cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
}

// bigFile writes size pseudo-random bytes to path unless it is there
// already (testdata/gen is git-ignored and kept between runs).
func bigFile(b *testing.B, path string, size int64) string {
	b.Helper()
	if fi, err := os.Stat(path); err == nil && fi.Size() == size {
		return path
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	buf := make([]byte, 1<<20)
	for n := int64(0); n < size; n += int64(len(buf)) {
		_, _ = r.Read(buf)                                 // ChaCha8 never fails
		_, _ = w.Write(buf[:min(int64(len(buf)), size-n)]) // bufio keeps the first error for Flush below
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	if err := os.Rename(path+".tmp", path); err != nil {
		b.Fatal(err)
	}
	return path
}
