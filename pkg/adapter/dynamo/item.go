package dynamo

import (
	"fmt"
	"strconv"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// timeLayout has a fixed width so that stored times sort as strings (the
// by_workspace index sorts on created_at). RFC3339Nano drops trailing zeros
// and would not.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

type item = map[string]ddbtypes.AttributeValue

func str(s string) *ddbtypes.AttributeValueMemberS { return &ddbtypes.AttributeValueMemberS{Value: s} }

func num(n int64) *ddbtypes.AttributeValueMemberN {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func boolean(b bool) *ddbtypes.AttributeValueMemberBOOL {
	return &ddbtypes.AttributeValueMemberBOOL{Value: b}
}

func timeValue(t time.Time) *ddbtypes.AttributeValueMemberS { return str(t.UTC().Format(timeLayout)) }

// stringList stores a list as L, which unlike SS may be empty.
func stringList(ss []string) *ddbtypes.AttributeValueMemberL {
	l := make([]ddbtypes.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = str(s)
	}
	return &ddbtypes.AttributeValueMemberL{Value: l}
}

// itemReader reads typed attributes from an item, remembering the first
// problem so that a decoder can check once at the end.
type itemReader struct {
	item item
	err  error
}

func (r *itemReader) fail(name, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s: not a %s", name, want)
	}
}

func (r *itemReader) str(name string) string {
	v, ok := r.item[name]
	if !ok {
		return ""
	}
	s, ok := v.(*ddbtypes.AttributeValueMemberS)
	if !ok {
		r.fail(name, "string")
		return ""
	}
	return s.Value
}

func (r *itemReader) num(name string) int64 {
	v, ok := r.item[name]
	if !ok {
		return 0
	}
	n, ok := v.(*ddbtypes.AttributeValueMemberN)
	if !ok {
		r.fail(name, "number")
		return 0
	}
	i, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		r.fail(name, "integer")
	}
	return i
}

func (r *itemReader) bytes(name string) []byte {
	v, ok := r.item[name]
	if !ok {
		return nil
	}
	b, ok := v.(*ddbtypes.AttributeValueMemberB)
	if !ok {
		r.fail(name, "binary")
		return nil
	}
	return b.Value
}

func (r *itemReader) list(name string) []string {
	v, ok := r.item[name]
	if !ok {
		return nil
	}
	l, ok := v.(*ddbtypes.AttributeValueMemberL)
	if !ok {
		r.fail(name, "list")
		return nil
	}
	out := make([]string, 0, len(l.Value))
	for _, e := range l.Value {
		s, ok := e.(*ddbtypes.AttributeValueMemberS)
		if !ok {
			r.fail(name, "list of strings")
			return nil
		}
		out = append(out, s.Value)
	}
	return out
}

func (r *itemReader) time(name string) time.Time {
	s := r.str(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		r.fail(name, "time")
	}
	return t
}

func (r *itemReader) optionalTime(name string) *time.Time {
	if _, ok := r.item[name]; !ok {
		return nil
	}
	t := r.time(name)
	return &t
}
