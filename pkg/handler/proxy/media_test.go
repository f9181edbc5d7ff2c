package proxy_test

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
)

// mediaRegistry has a provider serving the audio, image and moderation
// routes (beta) and one serving only chat (alpha).
const mediaRegistry = `{"providers": [
  {"id": "alpha", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "ALPHA_KEY"}, "models": [{"id": "m1"}]},
  {"id": "beta", "base_url": "", "local_only": true, "auth": "bearer", "credential": {"env": "BETA_KEY"},
   "apis": ["moderations", "images", "audio"], "models": [{"id": "tts"}, {"id": "stt"}, {"id": "mod"}]}
]}`

func newMediaFixture(t *testing.T, beta func(http.ResponseWriter, *http.Request, int)) *fixture {
	t.Helper()
	return newFixtureWithRegistry(t, mediaRegistry, chatOK, beta)
}

func TestSpeechBytesAreRelayedAsTheyCome(t *testing.T) {
	audio := append([]byte("RIFF"), 0x00, 0xff, 0xfe, 0x80, 0x0a, 0x0d)
	f := newMediaFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "audio/mpeg")
		w.Write(audio)
	})
	a := f.call("POST", "/audio/speech", `{"model":"beta/tts","input":"hello","voice":"alloy"}`, nil)
	if a.stream == nil || a.status != 200 || a.headers["Content-Type"] != "audio/mpeg" {
		t.Fatalf("answer %+v, want a 200 stream of audio/mpeg", a)
	}
	got, _ := io.ReadAll(a.stream.Body)
	a.stream.Close()
	if !bytes.Equal(got, audio) {
		t.Errorf("relayed %q, want the provider's bytes unchanged %q", got, audio)
	}
	if body := f.beta.body(t); body["model"] != "tts" || body["stream_options"] != nil {
		t.Errorf("upstream body %v", body)
	}
	if u := f.usage(); u.Requests != 1 || u.Errors() != 0 {
		t.Errorf("usage %+v, want one request, recorded once", u)
	}
}

func TestTranscriptionUploadGoesOnWithTheProvidersModel(t *testing.T) {
	f := newMediaFixture(t, func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"text":"hi","usage":{"type":"tokens","input_tokens":12,"output_tokens":1,"total_tokens":13}}`)
	})
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("model", "beta/stt")
	fw, _ := mw.CreateFormFile("file", "a.wav")
	audio := []byte{0x00, 0xff, 0xfe, 'R', 0x80}
	fw.Write(audio)
	mw.Close()
	encoded := base64.StdEncoding.EncodeToString(buf.Bytes())
	a := f.callBase64("POST", "/audio/transcriptions", encoded, map[string]string{"Content-Type": mw.FormDataContentType()})
	if text := a.text(t); a.status != 200 || !strings.Contains(text, `"text":"hi"`) {
		t.Fatalf("answer %d %s", a.status, text)
	}
	up := f.beta.last
	mediaType, params, _ := mime.ParseMediaType(up.Header.Get("Content-Type"))
	if up.URL.Path != "/audio/transcriptions" || mediaType != "multipart/form-data" {
		t.Fatalf("upstream %s %s", up.URL.Path, up.Header.Get("Content-Type"))
	}
	form, err := multipart.NewReader(bytes.NewReader(f.beta.lastRaw), params["boundary"]).ReadForm(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := form.File["file"][0].Open()
	got, _ := io.ReadAll(file)
	if form.Value["model"][0] != "stt" || !bytes.Equal(got, audio) || form.File["file"][0].Filename != "a.wav" {
		t.Errorf("upstream form model %v, file %q %q; want stt and the bytes unchanged", form.Value["model"], form.File["file"][0].Filename, got)
	}
	if u := f.usage(); u.PromptTokens != 12 || u.CompletionTokens != 1 {
		t.Errorf("usage %+v, want 12+1 tokens", u)
	}
}

func TestMediaRoutesRefuse(t *testing.T) {
	f := newMediaFixture(t, chatOK)
	for name, tc := range map[string]struct {
		route, body, contentType string
		status                   int
		code                     string
	}{
		"a JSON body for an upload":    {"/audio/transcriptions", `{"model":"beta/stt"}`, "application/json", 400, "validation_error"},
		"an upload without a model":    {"/audio/transcriptions", "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nx\r\n--b--\r\n", "multipart/form-data; boundary=b", 400, "model_required"},
		"an upload over the cap":       {"/audio/transcriptions", "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n" + strings.Repeat("x", 4<<20) + "\r\n--b--\r\n", "multipart/form-data; boundary=b", 413, "body_too_large"},
		"a provider without the route": {"/moderations", `{"model":"alpha/m1","input":"x"}`, "application/json", 400, "unsupported_route"},
		"a provider without images":    {"/images/generations", `{"model":"alpha/m1","prompt":"x"}`, "application/json", 400, "unsupported_route"},
	} {
		t.Run(name, func(t *testing.T) {
			a := f.call("POST", tc.route, tc.body, map[string]string{"Content-Type": tc.contentType})
			if text := a.text(t); a.status != tc.status || !strings.Contains(text, `"code":"`+tc.code+`"`) {
				t.Errorf("got %d %s, want %d %s", a.status, text, tc.status, tc.code)
			}
		})
	}
	if n := f.alpha.calls.Load() + f.beta.calls.Load(); n != 0 {
		t.Errorf("%d upstream calls for refused requests, want 0", n)
	}
}
