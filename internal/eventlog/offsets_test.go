package eventlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ordersaga/ordersaga/internal/eventlog"
)

// A record produced while the reader looks up where a time starts (a watch opened just as its
// order's first event is being forwarded) is at or after the offsets it returns: kfake's control
// hook produces it between the reader's two lookups.
func TestOffsetsOfATimeIncludeARecordProducedDuringTheLookup(t *testing.T) {
	const topic = "topic"
	cluster, cfg, producer := newKafka(t, topic, 1)
	ctx := context.Background()
	r, err := eventlog.Open(ctx, cfg, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	lookups := 0
	produced := int64(-1)
	cluster.ControlKey(kmsg.ListOffsets.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		if lookups++; lookups == 2 { // between the two lookups
			cluster.SleepControl(func() {
				res := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("the first event")})
				if rec, err := res.First(); err == nil {
					produced = rec.Offset
				}
			})
		}
		return nil, nil, false // then answered as usual
	})
	offsets, err := r.Offsets(ctx, time.Now().Add(-5*time.Second).UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if lookups != 2 || produced < 0 {
		t.Fatalf("%d lookups, record produced at %d; the test needs two lookups and the record", lookups, produced)
	}
	if offsets[0] > produced {
		t.Errorf("reading starts at offset %d, past the record produced at %d during the lookup", offsets[0], produced)
	}
}
