package localprovider

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file serves OpenAI's moderations, image, speech and transcription
// routes for model echo, each with a small deterministic answer, so that
// the local stack covers them offline.

// onePixelPNG is a valid 1×1 transparent PNG: the image echo "draws".
var onePixelPNG = []byte{
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
	0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
	0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
	0x42, 0x60, 0x82,
}

// decodeJSON decodes the request body into req, or answers 400 and
// returns false.
func decodeJSON(w http.ResponseWriter, r *http.Request, req any) bool {
	if err := json.NewDecoder(r.Body).Decode(req); err != nil {
		badRequest(w, "invalid JSON body")
		return false
	}
	return true
}

// knownModel reports whether model is one of models, or answers 404
// model_not_found as OpenAI does and returns false.
func knownModel(w http.ResponseWriter, model string, models ...string) bool {
	if slices.Contains(models, model) {
		return true
	}
	writeJSON(w, 404, map[string]any{"error": map[string]any{"message": "model not found", "type": "invalid_request_error", "code": "model_not_found", "param": "model"}})
	return false
}

// moderations flags an input that contains the word "harm", and nothing
// else.
func moderations(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string          `json:"model"`
		Input json.RawMessage `json:"input"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if !knownModel(w, req.Model, "echo") {
		return
	}
	inputs, ok := stringOrList(req.Input)
	if !ok {
		badRequest(w, "input must be a string or a list of strings")
		return
	}
	results := []any{}
	for _, in := range inputs {
		flagged := strings.Contains(strings.ToLower(in), "harm")
		score := 0.0
		if flagged {
			score = 0.99
		}
		results = append(results, map[string]any{"flagged": flagged,
			"categories":      map[string]bool{"violence": flagged, "harassment": false, "self-harm": false},
			"category_scores": map[string]float64{"violence": score, "harassment": 0, "self-harm": 0}})
	}
	writeJSON(w, 200, map[string]any{"id": fmt.Sprintf("modr-local-%d", time.Now().UnixNano()), "model": req.Model, "results": results})
}

// images answers every prompt with n one-pixel PNGs, base64-encoded.
func images(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model  string `json:"model"`
		Prompt string `json:"prompt"`
		N      int    `json:"n"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if !knownModel(w, req.Model, "echo") {
		return
	}
	if req.Prompt == "" {
		badRequest(w, "prompt is required")
		return
	}
	n := max(req.N, 1)
	data := make([]any, n)
	for i := range data {
		data[i] = map[string]any{"b64_json": base64.StdEncoding.EncodeToString(onePixelPNG), "revised_prompt": req.Prompt}
	}
	in := tokens(req.Prompt)
	writeJSON(w, 200, map[string]any{"created": time.Now().Unix(), "data": data,
		"usage": map[string]any{"input_tokens": in, "output_tokens": 0, "total_tokens": in,
			"input_tokens_details": map[string]any{"text_tokens": in, "image_tokens": 0}}})
}

// speech answers with a WAV file whose samples spell the input's bytes,
// sent in several flushed pieces, as a provider streams audio.
func speech(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Model string `json:"model"`
		Input string `json:"input"`
		Voice string `json:"voice"`
	}
	if !decodeJSON(w, r, &req) {
		return
	}
	if !knownModel(w, req.Model, "echo") {
		return
	}
	if req.Input == "" {
		badRequest(w, "input is required")
		return
	}
	audio := wav([]byte(req.Input))
	w.Header().Set("Content-Type", "audio/wav")
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	for len(audio) > 0 {
		n := min(len(audio), 16)
		_, _ = w.Write(audio[:n])
		audio = audio[n:]
		if flusher != nil {
			flusher.Flush()
		}
	}
}

// wav is a mono 8-bit 8 kHz WAV file with samples as its data.
func wav(samples []byte) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+len(samples)))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(8000), uint16(1), uint16(8)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(len(samples)))
	b.Write(samples)
	return b.Bytes()
}

// transcriptions "hears" the uploaded file: a WAV from speech gives back
// the text it was made from, any other file the text of its bytes when
// they are UTF-8, else how many bytes came.
func transcriptions(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		badRequest(w, "the body must be multipart/form-data")
		return
	}
	if !knownModel(w, r.FormValue("model"), "echo") {
		return
	}
	f, _, err := r.FormFile("file")
	if err != nil {
		badRequest(w, "file is required")
		return
	}
	defer f.Close()
	raw, _ := io.ReadAll(f)
	text := fmt.Sprintf("%d bytes of audio", len(raw))
	switch {
	case len(raw) >= 44 && string(raw[:4]) == "RIFF" && string(raw[36:40]) == "data":
		text = string(raw[44:])
	case utf8.Valid(raw):
		text = string(raw)
	}
	if r.FormValue("response_format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, text)
		return
	}
	out := tokens(text)
	writeJSON(w, 200, map[string]any{"text": text,
		"usage": map[string]any{"type": "tokens", "input_tokens": len(raw) / 100, "output_tokens": out, "total_tokens": len(raw)/100 + int(out)}})
}
