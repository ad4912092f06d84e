package deadletter

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// Extensions Knative sets on a dead-lettered event.
const (
	ExtErrorCode = "knativeerrorcode"
	ExtErrorData = "knativeerrordata"
	ExtErrorDest = "knativeerrordest"
)

// maxErrorData bounds how much of the subscriber's answer is kept.
const maxErrorData = 4 << 10

// received is what Handle stores of one dead-lettered event.
type received struct {
	key         []byte
	source      string
	id          string
	destination string
	eventType   string
	orderID     string
	event       []byte
	errorCode   int
	errorData   string
	// retryable: the failure was transient and the destination one to redeliver to (see
	// Function.classify).
	retryable bool
}

// receive reads a dead letter from e. Errors: only when e cannot be encoded at all, which a
// validated event cannot (see encodeEvent).
func receive(e cloudevents.Event) (received, error) {
	ext := e.Extensions()
	raw, err := encodeEvent(e)
	if err != nil {
		return received{}, err
	}
	code, _ := strconv.Atoi(strings.TrimSpace(extString(ext, ExtErrorCode))) // missing or garbled: 0, no answer known
	r := received{
		source:      text(e.Source()),
		id:          text(e.ID()),
		destination: text(extString(ext, ExtErrorDest)),
		eventType:   text(e.Type()),
		orderID:     text(e.Subject()),
		event:       raw,
		errorCode:   code,
		errorData:   errorData(extString(ext, ExtErrorData)),
	}
	if r.orderID == "" {
		r.orderID = text(extString(ext, "partitionkey"))
	}
	r.key = dedupKey(r.source, r.id, r.destination)
	return r, nil
}

// dedupKey identifies one event failing for one subscriber. The parts are length-prefixed, so
// no two different triples hash the same input.
func dedupKey(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		_ = binary.Write(h, binary.BigEndian, uint64(len(p)))
		h.Write([]byte(p))
	}
	return h.Sum(nil)
}

// encodeEvent is e in the structured JSON format. An event whose data claims to be JSON but is
// not (a common reason to be dead) cannot be written with its data inline, so its data is then
// kept as data_base64: the same bytes, which redelivery sends unchanged.
func encodeEvent(e cloudevents.Event) ([]byte, error) {
	raw, err := json.Marshal(e)
	if err == nil {
		return raw, nil
	}
	c := e.Clone()
	c.DataBase64 = true
	raw, err2 := json.Marshal(c)
	if err2 != nil {
		return nil, fmt.Errorf("encode dead letter %s: %w", e.ID(), err)
	}
	return raw, nil
}

// decodeEvent is the stored event. Errors: the stored bytes are not a CloudEvent, which
// encodeEvent never writes.
func decodeEvent(raw []byte) (cloudevents.Event, error) {
	var e cloudevents.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return e, fmt.Errorf("stored dead letter does not decode: %w", err)
	}
	return e, nil
}

func extString(ext map[string]any, name string) string {
	v, ok := ext[name]
	if !ok {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// errorData is the subscriber's answer: knativeerrordata decoded from base64 when it is that
// (it is, from Knative's dispatchers), bounded in size, as text PostgreSQL takes.
func errorData(s string) string {
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		s = string(b)
	}
	if len(s) > maxErrorData {
		s = s[:maxErrorData] + "..."
	}
	return text(s)
}

// text makes s storable in a text column, which refuses invalid UTF-8 and NUL: a dead letter
// is stored whatever its attributes hold, or the broker would retry it against the sink forever.
func text(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
