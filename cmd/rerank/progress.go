package main

import (
	"cmp"
	"fmt"
	"io"
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
// (without the bar, the total and the ETA when the number of lines is unknown, as for
// stdin) and prints a throughput summary at the end. The counters are updated by the
// scoring goroutine after each chunk; a separate goroutine redraws on a ticker so that the
// elapsed time moves even while one long chunk runs. Nothing is drawn before the first
// tick, so a quick run leaves only the summary.
type meter struct {
	w     io.Writer
	total int // lines of the input; 0: unknown
	start time.Time
	// verb and unit name the work: "scored" "pair" (rerank score, and the zero value),
	// "embedded" "text" (rerank embed).
	verb, unit string

	lines, pairs, tokens atomic.Int64 // done so far

	stop, stopped chan struct{}
	width         int // bytes of the last drawn line (ASCII), to clear it
	elapsed       time.Duration
}

// startMeter starts drawing the progress of scoring total lines (0: unknown).
func startMeter(w io.Writer, total int) *meter { return startMeterFor(w, total, "scored", "pair") }

// startMeterFor starts drawing the progress of total lines (0: unknown) of work counted in
// units ("pair", "text") and summed up with verb ("scored", "embedded").
func startMeterFor(w io.Writer, total int, verb, unit string) *meter {
	m := &meter{w: w, total: total, start: time.Now(), verb: verb, unit: unit, stop: make(chan struct{}), stopped: make(chan struct{})}
	go m.loop()
	return m
}

// update records the lines written so far and their units (pairs, texts) and tokens.
func (m *meter) update(lines, pairs, tokens int) {
	m.lines.Store(int64(lines))
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
	_, unit := m.words()
	el := time.Since(m.start)
	lines, pairs := int(m.lines.Load()), int(m.pairs.Load())
	rate := float64(pairs) / el.Seconds()
	var s string
	if m.total > 0 {
		frac := min(float64(lines)/float64(m.total), 1)
		const barWidth = 10
		bar := strings.Repeat("=", int(frac*barWidth))
		if len(bar) < barWidth && lines > 0 {
			bar += ">"
		}
		s = fmt.Sprintf("[%-*s] %3.0f%%  %d/%d lines  %d %ss  %.1f %ss/s  %s",
			barWidth, bar, 100*frac, lines, m.total, pairs, unit, rate, unit, fmtElapsed(el))
		if lines > 0 && lines < m.total {
			s += "  ETA " + fmtElapsed(time.Duration(float64(m.total-lines)/float64(lines)*float64(el)))
		}
	} else {
		s = fmt.Sprintf("%d lines  %d %ss  %.1f %ss/s  %s", lines, pairs, unit, rate, unit, fmtElapsed(el))
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

// summary prints "scored N pairs from M lines in 12.3s (45.6 pairs/s, 7890 tokens/s)"
// ("embedded N texts ..." for rerank embed); call it after end.
func (m *meter) summary() {
	verb, unit := m.words()
	pairs, tokens, lines := m.pairs.Load(), m.tokens.Load(), int(m.lines.Load())
	sec := max(m.elapsed.Seconds(), 1e-9)
	fmt.Fprintf(m.w, "%s %d %s from %d %s in %s (%.1f %ss/s, %.0f tokens/s)\n",
		verb, pairs, plural(int(pairs), unit), lines, plural(lines, "line"),
		fmtElapsed(m.elapsed), float64(pairs)/sec, unit, float64(tokens)/sec)
}

// words names the work: verb and unit, pairs scored for a meter built without them.
func (m *meter) words() (verb, unit string) { return cmp.Or(m.verb, "scored"), cmp.Or(m.unit, "pair") }

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
