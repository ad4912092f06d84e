package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// emit writes a result: v as JSON or YAML in those formats, and the table function's rendering
// otherwise. The table never depends on v encoding well.
func (a *app) emit(v any, table func(w io.Writer)) error {
	if a.output == "table" {
		table(a.stdout)
		return nil
	}
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("format JSON: %w", err)
	}
	if a.output == "yaml" {
		if raw, err = yaml.JSONToYAML(raw); err != nil {
			return fmt.Errorf("format YAML: %w", err)
		}
		_, err = a.stdout.Write(raw)
		return err
	}
	_, err = a.stdout.Write(append(raw, '\n'))
	return err
}

// ANSI colours, all the same length so that coloured columns stay aligned.
const (
	red    = "\x1b[31m"
	green  = "\x1b[32m"
	yellow = "\x1b[33m"
	blue   = "\x1b[34m"
	cyan   = "\x1b[36m"
	bold   = "\x1b[1m"
	reset  = "\x1b[0m"
)

// paint colours s when on a terminal.
func (a *app) paint(colour, s string) string {
	if !a.colour() || colour == "" {
		return s
	}
	return colour + s + reset
}

func statusColour(status string) string {
	switch status {
	case "COMPLETED":
		return green
	case "CANCELLED":
		return red
	case "APPROVED":
		return cyan
	case "REQUESTED":
		return yellow
	}
	return ""
}

func eventColour(t string) string {
	switch t {
	case "ORDER_COMPLETED":
		return green
	case "ORDER_CANCELLED", "INVENTORY_NOT_RESERVED", "TRANSACTION_FAILED":
		return red
	case "ORDER_REQUESTED":
		return yellow
	}
	return blue
}

// cell is one table cell: its text and, on a terminal, its colour.
type cell struct {
	text   string
	colour string
}

// table is the one way the CLI prints columns: a whole table at once (render), each column as
// wide as its widest cell, or line by line as results stream in (row), with widths fixed up front.
// Widths come from the plain text, so colour never misaligns.
type table struct {
	header []string
	rows   [][]cell
}

func (t *table) add(values ...any) { t.rows = append(t.rows, cells(values...)) }

// cells makes table cells of strings, cells and anything fmt can print.
func cells(values ...any) []cell {
	row := make([]cell, len(values))
	for i, v := range values {
		switch v := v.(type) {
		case cell:
			row[i] = v
		case string:
			row[i] = cell{text: v}
		default:
			row[i] = cell{text: fmt.Sprint(v)}
		}
	}
	return row
}

// columnGap separates columns.
const columnGap = 3

func (a *app) render(w io.Writer, t *table) {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			if i < len(widths) {
				widths[i] = max(widths[i], utf8.RuneCountInString(c.text))
			}
		}
	}
	header := make([]any, len(t.header))
	for i, h := range t.header {
		header[i] = h
	}
	fmt.Fprintln(w, a.row(widths, cells(header...)))
	for _, r := range t.rows {
		fmt.Fprintln(w, a.row(widths, r))
	}
}

// row formats one line of columns of the given widths; a cell wider than its column pushes the
// rest of the line to the right rather than being cut.
func (a *app) row(widths []int, row []cell) string {
	var b strings.Builder
	for i, c := range row {
		b.WriteString(a.paint(c.colour, c.text))
		if i < len(row)-1 {
			width := 0
			if i < len(widths) {
				width = widths[i]
			}
			b.WriteString(strings.Repeat(" ", max(0, width-utf8.RuneCountInString(c.text))+columnGap))
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// details renders key: value lines, aligned.
func (a *app) details(w io.Writer, pairs ...any) {
	width := 0
	for i := 0; i < len(pairs); i += 2 {
		width = max(width, len(pairs[i].(string)))
	}
	for i := 0; i+1 < len(pairs); i += 2 {
		key := pairs[i].(string) + ":"
		var v string
		switch c := pairs[i+1].(type) {
		case cell:
			v = a.paint(c.colour, c.text)
		default:
			v = fmt.Sprint(c)
		}
		fmt.Fprintf(w, "%-*s %s\n", width+1, key, v)
	}
}

// money formats minor units (cents) as 12.50.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// timestamp formats a time for tables: UTC, to the second.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// clock formats an event time: UTC, to the millisecond.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// ms formats a latency in milliseconds with one decimal under 10 ms.
func ms(d time.Duration) string {
	if d >= time.Second {
		return d.Round(time.Millisecond).String()
	}
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// spinner is the progress indicator on stderr, shown only on a terminal. Lines for stdout go
// through println, which clears the indicator first so the two never mix on one screen line.
type spinner struct {
	mu      sync.Mutex
	w       io.Writer
	out     io.Writer
	enabled bool
	frame   int
	status  string
	start   time.Time
	done    chan struct{}
	stopped sync.Once
}

func (a *app) newSpinner() *spinner {
	s := &spinner{w: a.stderr, out: a.stdout, enabled: a.env.StderrTerminal, start: time.Now(), done: make(chan struct{})}
	if s.enabled {
		go s.run()
	}
	return s
}

var frames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (s *spinner) run() {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
			s.mu.Lock()
			s.frame++
			fmt.Fprintf(s.w, "\r\x1b[K%s waiting… %s %s", frames[s.frame%len(frames)], s.status,
				time.Since(s.start).Truncate(100*time.Millisecond))
			s.mu.Unlock()
		}
	}
}

// set changes the text beside the indicator.
func (s *spinner) set(status string) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// println writes a line to stdout, clearing the indicator first.
func (s *spinner) println(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enabled {
		fmt.Fprint(s.w, "\r\x1b[K")
	}
	fmt.Fprintln(s.out, line)
}

func (s *spinner) stop() {
	s.stopped.Do(func() {
		close(s.done)
		s.mu.Lock()
		if s.enabled {
			fmt.Fprint(s.w, "\r\x1b[K")
		}
		s.mu.Unlock()
	})
}
