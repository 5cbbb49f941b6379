package testutil

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestSyncBufferKeepsConcurrentWrites(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() { fmt.Fprintf(&b, "%d\n", i) })
	}
	wg.Wait()
	if n := len(b.String()); n != 20 {
		t.Errorf("%d bytes, want 20", n)
	}
}

func TestWaitForReturnsOnceTheConditionHolds(t *testing.T) {
	calls := 0
	WaitFor(t, time.Minute, "the third look", func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("%d looks, want 3", calls)
	}
}
