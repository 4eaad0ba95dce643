package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// meterInterval is the redraw period of the progress line (at most 10 redraws a second).
const meterInterval = 100 * time.Millisecond

// meter draws the progress of rerank score on one stderr line, redrawn with \r,
//
//	[====>     ]  42%  1234/5678 lines  2345 pairs  45.6 pairs/s  12.3s  ETA 17s
//
// and prints a throughput summary at the end. The counters are updated by the scoring
// goroutine (through gorerank.ScoreOptions.Progress); a separate goroutine redraws on a
// ticker so that the elapsed time moves even while one long batch runs. Nothing is drawn
// before the first tick, so a quick run leaves only the summary.
type meter struct {
	w     io.Writer
	ends  []int // ends[i]: pairs scored once line i is complete (increasing)
	start time.Time

	pairs, tokens atomic.Int64 // scored so far

	stop, stopped chan struct{}
	width         int // bytes of the last drawn line (ASCII), to clear it
	elapsed       time.Duration
}

// startMeter starts drawing the progress of scoring the lines whose pair counts end at
// ends (cumulative, ends[len-1] is the number of pairs).
func startMeter(w io.Writer, ends []int) *meter {
	m := &meter{w: w, ends: ends, start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go m.loop()
	return m
}

// update is the gorerank.ScoreOptions.Progress hook.
func (m *meter) update(pairs, tokens int) {
	m.pairs.Store(int64(pairs))
	m.tokens.Store(int64(tokens))
}

func (m *meter) loop() {
	defer close(m.stopped)
	t := time.NewTicker(meterInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.draw()
		}
	}
}

// draw writes the progress line; only the loop goroutine calls it.
func (m *meter) draw() {
	el := time.Since(m.start)
	pairs, total := int(m.pairs.Load()), m.ends[len(m.ends)-1]
	lines := sort.Search(len(m.ends), func(i int) bool { return m.ends[i] > pairs })
	frac := float64(pairs) / float64(total)
	const barWidth = 10
	bar := strings.Repeat("=", int(frac*barWidth))
	if len(bar) < barWidth && pairs > 0 {
		bar += ">"
	}
	rate := float64(pairs) / el.Seconds()
	s := fmt.Sprintf("[%-*s] %3.0f%%  %d/%d lines  %d pairs  %.1f pairs/s  %s",
		barWidth, bar, 100*frac, lines, len(m.ends), pairs, rate, fmtElapsed(el))
	if pairs > 0 && pairs < total {
		s += "  ETA " + fmtElapsed(time.Duration(float64(total-pairs)/rate*float64(time.Second)))
	}
	pad := max(m.width-len(s), 0) // the line may have shrunk (ETA)
	fmt.Fprintf(m.w, "\r%s%s", s, strings.Repeat(" ", pad))
	m.width = len(s) + pad
}

// end stops the redraws and clears the progress line; call it once, when scoring is over.
func (m *meter) end() {
	m.elapsed = time.Since(m.start)
	close(m.stop)
	<-m.stopped
	m.clear()
}

// clear blanks the progress line, if one was drawn, and returns the cursor to its start.
func (m *meter) clear() {
	if m.width > 0 {
		fmt.Fprintf(m.w, "\r%s\r", strings.Repeat(" ", m.width))
		m.width = 0
	}
}

// summary prints "scored N pairs from M lines in 12.3s (45.6 pairs/s, 7890 tokens/s)"; call it after end.
func (m *meter) summary() {
	pairs, tokens := m.pairs.Load(), m.tokens.Load()
	sec := max(m.elapsed.Seconds(), 1e-9)
	fmt.Fprintf(m.w, "scored %d %s from %d %s in %s (%.1f pairs/s, %.0f tokens/s)\n",
		pairs, plural(int(pairs), "pair"), len(m.ends), plural(len(m.ends), "line"),
		fmtElapsed(m.elapsed), float64(pairs)/sec, float64(tokens)/sec)
}

// fmtElapsed formats a duration for people: "0.4s", "12.3s", "2m05s", "1h02m05s".
func fmtElapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	s := int(d.Round(time.Second) / time.Second)
	if s < 3600 {
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
