package server

import (
	"math"
	"testing"
	"time"
)

// The integral is the area under the queue-depth step function.
func TestDepthIntegral(t *testing.T) {
	var d depthIntegral
	if d.total() != 0 {
		t.Fatal("nonzero before the first set")
	}
	t0 := time.Now().Add(-10 * time.Second)
	d.set(4, t0)                     // 4 pairs for 2 s: 8
	d.set(10, t0.Add(2*time.Second)) // 10 pairs for 1 s: 10
	d.set(0, t0.Add(3*time.Second))  // then empty
	if got := d.total(); math.Abs(got-18) > 1e-9 {
		t.Errorf("integral %v, want 18", got)
	}
	d.set(1, time.Now().Add(-time.Second)) // the current depth counts up to the scrape
	if got := d.total(); got < 18.99 || got > 19.5 {
		t.Errorf("integral %v, want about 19", got)
	}
}
