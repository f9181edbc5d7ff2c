package proxy

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aistats/edge/pkg/domain/gateway"
)

// multipartForm is a multipart/form-data body (an audio upload), kept part
// by part so that it can be sent on with the provider's own model id.
type multipartForm struct {
	parts []formPart
}

type formPart struct {
	header textproto.MIMEHeader
	data   []byte
}

// parseMultipart reads a multipart/form-data body: its model and stream
// fields, and every part as it came. The size cap is MaxBodyBytes, as for
// JSON bodies: the file counts whole.
func parseMultipart(req events.APIGatewayProxyRequest) (requestBody, error) {
	raw, err := rawBody(req)
	if err != nil {
		return requestBody{}, err
	}
	mediaType, params, err := mime.ParseMediaType(headerValue(req, "Content-Type"))
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return requestBody{}, gateway.Errorf(gateway.CodeValidationError, "This route takes a multipart/form-data body with the file and the model.")
	}
	b := requestBody{form: &multipartForm{}}
	r := multipart.NewReader(bytes.NewReader(raw), params["boundary"])
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return requestBody{}, gateway.Errorf(gateway.CodeValidationError, "The multipart body is malformed.")
		}
		data, err := io.ReadAll(p)
		if err != nil {
			return requestBody{}, gateway.Errorf(gateway.CodeValidationError, "The multipart body is malformed.")
		}
		switch p.FormName() {
		case "model":
			b.model = strings.TrimSpace(string(data))
		case "stream":
			b.stream = strings.TrimSpace(string(data)) == "true"
		}
		b.form.parts = append(b.form.parts, formPart{header: p.Header, data: data})
	}
	if b.model == "" {
		return requestBody{}, &gateway.Error{Code: gateway.CodeModelRequired, Param: "model", Message: "The request must name a model."}
	}
	if !validModel(b.model) {
		return requestBody{}, &gateway.Error{Code: gateway.CodeValidationError, Param: "model",
			Message: "A model name is at most 256 characters: letters, digits and . _ - : / @ +."}
	}
	return b, nil
}

// withModel is the form as the client sent it, its model field naming the
// provider's own model id, and the Content-Type that goes with it.
func (f *multipartForm) withModel(model string) ([]byte, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range f.parts {
		if formName(p.header) == "model" {
			_ = w.WriteField("model", model)
			continue
		}
		part, _ := w.CreatePart(p.header) // writing to a bytes.Buffer cannot fail
		_, _ = part.Write(p.data)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

func formName(h textproto.MIMEHeader) string {
	_, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["name"]
}
