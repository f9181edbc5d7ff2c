package devstack_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAIMediaRoutesAgainstTheLocalStack runs moderations, image
// generation, speech and transcription through the OpenAI Go client against
// the local stack, whose offline provider serves them: speech comes back as
// bytes and goes back in as a multipart upload, through the emulator's
// binary media type handling, to give the same text.
func TestOpenAIMediaRoutesAgainstTheLocalStack(t *testing.T) {
	running, _, stop := startStack(t, t.TempDir(), -1)
	defer stop()
	ctx := context.Background()
	creds := running.Credentials
	sdk := openai.NewClient(option.WithBaseURL(creds.BaseURL+"/"), option.WithAPIKey(creds.APIKey), option.WithMaxRetries(0))

	t.Run("moderations", func(t *testing.T) {
		resp, err := sdk.Moderations.New(ctx, openai.ModerationNewParams{Model: "local/echo",
			Input: openai.ModerationNewParamsInputUnion{OfStringArray: []string{"a kind word", "do harm"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Results) != 2 || resp.Results[0].Flagged || !resp.Results[1].Flagged {
			t.Errorf("results %+v, want the second input flagged only", resp.Results)
		}
	})
	t.Run("image", func(t *testing.T) {
		resp, err := sdk.Images.Generate(ctx, openai.ImageGenerateParams{Model: "local/echo", Prompt: "a lighthouse"})
		if err != nil {
			t.Fatal(err)
		}
		png, err := base64.StdEncoding.DecodeString(resp.Data[0].B64JSON)
		if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG")) {
			t.Errorf("image %q (%v), want a PNG", resp.Data[0].B64JSON, err)
		}
	})
	var audio []byte
	t.Run("speech", func(t *testing.T) {
		resp, err := sdk.Audio.Speech.New(ctx, openai.AudioSpeechNewParams{Model: "local/echo", Input: "read this aloud",
			Voice: openai.AudioSpeechNewParamsVoiceUnion{OfString: openai.String("alloy")}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		audio, err = io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Type") != "audio/wav" || !bytes.HasPrefix(audio, []byte("RIFF")) || !bytes.HasSuffix(audio, []byte("read this aloud")) {
			t.Errorf("speech %s, %q", resp.Header.Get("Content-Type"), audio)
		}
	})
	t.Run("transcription", func(t *testing.T) {
		if audio == nil {
			t.Skip("no speech to transcribe")
		}
		// Bytes no text encoding survives: only a binary media type gets
		// them to the proxy intact.
		file := append(append([]byte{}, audio...), 0xff, 0xfe, 0x00)
		resp, err := sdk.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "local/echo",
			File: openai.File(bytes.NewReader(audio), "speech.wav", "audio/wav")})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Text != "read this aloud" {
			t.Errorf("transcribed %q, want the text of the speech", resp.Text)
		}
		resp, err = sdk.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "local/echo",
			File: openai.File(bytes.NewReader(file[44:]), "raw.bin", "application/octet-stream")})
		if err != nil {
			t.Fatal(err)
		}
		if want := "18 bytes of audio"; resp.Text != want {
			t.Errorf("transcribed %q, want %q: the upload's bytes were changed on the way", resp.Text, want)
		}
	})
	t.Run("an upload over the cap is a clear 413", func(t *testing.T) {
		_, err := sdk.Audio.Transcriptions.New(ctx, openai.AudioTranscriptionNewParams{Model: "local/echo",
			File: openai.File(strings.NewReader(strings.Repeat("a", 4<<20+1)), "big.wav", "audio/wav")})
		apiErr, ok := err.(*openai.Error)
		if !ok || apiErr.StatusCode != 413 || apiErr.Code != "body_too_large" {
			t.Errorf("error %v, want 413 body_too_large", err)
		}
	})
}
