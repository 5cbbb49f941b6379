package greenapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mediaprep/mediaprep/greenapi/internal/grapheme"
)

// Limits from Green API's pages, in user-perceived characters.
const (
	MaxCaption = 1024 // sendMediaStatus caption
	MaxMessage = 500  // sendTextStatus message
)

// Method names, as they appear in the URL.
const (
	MethodSendMediaStatus     = "sendMediaStatus"
	MethodSendVoiceStatus     = "sendVoiceStatus"
	MethodSendTextStatus      = "sendTextStatus"
	MethodGetOutgoingStatuses = "getOutgoingStatuses"
	MethodGetStatusStatistic  = "getStatusStatistic"
	MethodDeleteStatus        = "deleteStatus"
)

// Fonts sendTextStatus accepts. NORICAN_REGULAR applies to Latin letters only.
var fonts = []string{"SERIF", "SANS_SERIF", "NORICAN_REGULAR", "BRYNDAN_WRITE", "OSWALD_HEAVY"}

// MediaStatus is a picture or video status (sendMediaStatus).
type MediaStatus struct {
	URLFile      string   // direct http(s) link; the server must answer with the real image/* or video/* Content-Type
	FileName     string   // with an extension, not .mp3 (use VoiceStatus for audio)
	Caption      string   // optional, at most MaxCaption characters
	Participants []string // optional chat ids "79001234567@c.us"; empty means all contacts
}

// VoiceStatus is an audio status (sendVoiceStatus).
type VoiceStatus struct {
	URLFile         string   // direct http(s) link answering audio/mpeg or audio/wav
	FileName        string   // ending in .mp3 or .wav
	BackgroundColor string   // optional "#RRGGBB"; Green API's default is #FFFFFF
	Participants    []string // as in MediaStatus
}

// TextStatus is a text status (sendTextStatus). The text is drawn in
// white, so BackgroundColor is required and must not be white.
type TextStatus struct {
	Message         string   // required, not blank, at most MaxMessage characters
	BackgroundColor string   // "#RRGGBB", not #FFFFFF
	Font            string   // optional: SERIF, SANS_SERIF, NORICAN_REGULAR, BRYNDAN_WRITE, OSWALD_HEAVY
	Participants    []string // as in MediaStatus
}

// Sent is Green API's answer to a status send.
type Sent struct {
	IDMessage string `json:"idMessage"`
}

// OutgoingStatus is one entry of getOutgoingStatuses. Fields Green API
// adds beyond these are ignored.
type OutgoingStatus struct {
	Type          string `json:"type,omitempty"`
	IDMessage     string `json:"idMessage"`
	Timestamp     int64  `json:"timestamp"`
	TypeMessage   string `json:"typeMessage,omitempty"`
	ChatID        string `json:"chatId,omitempty"`
	StatusMessage string `json:"statusMessage,omitempty"`
	SendByAPI     bool   `json:"sendByApi,omitempty"`
	TextMessage   string `json:"textMessage,omitempty"`
	Caption       string `json:"caption,omitempty"`
	FileName      string `json:"fileName,omitempty"`
	MimeType      string `json:"mimeType,omitempty"`
	DownloadURL   string `json:"downloadUrl,omitempty"`
	// ExtendedTextMessage is set for a text status.
	ExtendedTextMessage *ExtendedText `json:"extendedTextMessage,omitempty"`
}

// ExtendedText is the text of a text status in getOutgoingStatuses.
type ExtendedText struct {
	Text            string `json:"text"`
	BackgroundColor string `json:"backgroundColor,omitempty"`
	Font            string `json:"font,omitempty"`
}

// Delivery states of a status as statusMessage shows them, furthest last.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
)

// StatusStatistic is one entry of getStatusStatistic.
type StatusStatistic struct {
	Participant string `json:"participant"`
	Timestamp   int64  `json:"timestamp"`
	Status      string `json:"status"`
}

// Wire bodies: optional empty fields are omitted.
type (
	mediaBody struct {
		URLFile      string   `json:"urlFile"`
		FileName     string   `json:"fileName"`
		Caption      string   `json:"caption,omitempty"`
		Participants []string `json:"participants,omitempty"`
	}
	voiceBody struct {
		URLFile         string   `json:"urlFile"`
		FileName        string   `json:"fileName"`
		BackgroundColor string   `json:"backgroundColor,omitempty"`
		Participants    []string `json:"participants,omitempty"`
	}
	textBody struct {
		Message         string   `json:"message"`
		BackgroundColor string   `json:"backgroundColor,omitempty"`
		Font            string   `json:"font,omitempty"`
		Participants    []string `json:"participants,omitempty"`
	}
)

type problem struct{ field, msg string }

type checker []problem

func (c *checker) add(field, format string, a ...any) {
	*c = append(*c, problem{field, fmt.Sprintf(format, a...)})
}

func (c checker) err(method string) error {
	if len(c) == 0 {
		return nil
	}
	return invalid(method, c)
}

// Validate reports every problem of s as an *Error with Code
// "invalid_request" (Field is the first field at fault); nil if s can be sent.
func (s MediaStatus) Validate() error {
	var c checker
	c.urlFile(s.URLFile)
	if ext := c.fileName(s.FileName); ext == ".mp3" {
		c.add("fileName", "%q is audio: sendMediaStatus does not take .mp3, send it as a VoiceStatus", s.FileName)
	}
	c.text("caption", s.Caption, MaxCaption, false)
	c.participants(s.Participants)
	return c.err(MethodSendMediaStatus)
}

// Validate reports every problem of s; see MediaStatus.Validate.
func (s VoiceStatus) Validate() error {
	var c checker
	c.urlFile(s.URLFile)
	if ext := c.fileName(s.FileName); ext != "" && ext != ".mp3" && ext != ".wav" {
		c.add("fileName", "%q: sendVoiceStatus takes .mp3 or .wav only", s.FileName)
	}
	if s.BackgroundColor != "" {
		c.color(s.BackgroundColor)
	}
	c.participants(s.Participants)
	return c.err(MethodSendVoiceStatus)
}

// Validate reports every problem of s; see MediaStatus.Validate.
func (s TextStatus) Validate() error {
	var c checker
	c.text("message", s.Message, MaxMessage, true)
	switch {
	case s.BackgroundColor == "":
		c.add("backgroundColor", "required: Green API defaults to white (#FFFFFF) and draws the text in white, so it would be unreadable")
	case strings.EqualFold(s.BackgroundColor, "#FFFFFF"):
		c.add("backgroundColor", "%s is white: the text is drawn in white and would be unreadable; pick another color", s.BackgroundColor)
	default:
		c.color(s.BackgroundColor)
	}
	if s.Font != "" && !slices.Contains(fonts, s.Font) {
		c.add("font", "%q is not one of %s", s.Font, strings.Join(fonts, ", "))
	}
	c.participants(s.Participants)
	return c.err(MethodSendTextStatus)
}

func (c *checker) utf8(field, v string) bool {
	if !utf8.ValidString(v) {
		c.add(field, "not valid UTF-8")
		return false
	}
	if strings.HasPrefix(v, "\uFEFF") {
		c.add(field, "starts with a byte order mark")
		return false
	}
	return true
}

func (c *checker) text(field, v string, limit int, required bool) {
	if !c.utf8(field, v) {
		return
	}
	if required && strings.TrimFunc(v, func(r rune) bool { return unicode.IsSpace(r) || r == '\u200b' || r == '\uFEFF' }) == "" {
		c.add(field, "required and must not be blank")
		return
	}
	if n := grapheme.Count(v); n > limit {
		c.add(field, "%d characters, at most %d allowed", n, limit)
	}
}

func (c *checker) urlFile(v string) {
	const f = "urlFile"
	if v == "" {
		c.add(f, "required: a direct http(s) link to the file")
		return
	}
	if !c.utf8(f, v) {
		return
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		c.add(f, "must not contain spaces or control characters")
		return
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.add(f, "%q is not an absolute http(s) URL", v)
		return
	}
	if u.User != nil {
		c.add(f, "must not carry user info")
	}
}

// fileName checks the name and returns its lower-case extension ("" when
// it has none, after reporting it).
func (c *checker) fileName(v string) string {
	const f = "fileName"
	if v == "" {
		c.add(f, "required, with an extension (e.g. status.jpg)")
		return ""
	}
	if !c.utf8(f, v) {
		return ""
	}
	if strings.ContainsAny(v, "/\\") || strings.ContainsFunc(v, unicode.IsControl) {
		c.add(f, "%q must be a bare file name (no / or \\ or control characters)", v)
		return ""
	}
	ext := strings.ToLower(path.Ext(v))
	if len(ext) < 2 || ext == v {
		c.add(f, "%q needs an extension (e.g. .jpg, .mp4, .mp3)", v)
		return ""
	}
	return ext
}

func (c *checker) color(v string) {
	if !isColor(v) {
		c.add("backgroundColor", "%q is not a #RRGGBB hex color", v)
	}
}

func isColor(v string) bool {
	if len(v) != 7 || v[0] != '#' {
		return false
	}
	for _, b := range []byte(v[1:]) {
		if !('0' <= b && b <= '9' || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F') {
			return false
		}
	}
	return true
}

func (c *checker) participants(ps []string) {
	for i, p := range ps {
		if !isChatID(p) {
			c.add("participants", "[%d] %q is not a personal chat id: country code and number, digits only, then @c.us (e.g. 79001234567@c.us)", i, p)
		}
	}
}

// isChatID reports whether p is "digits@c.us" with 5 to 15 digits (E.164
// allows at most 15), not starting with 0.
func isChatID(p string) bool {
	num, ok := strings.CutSuffix(p, "@c.us")
	return ok && len(num) >= 5 && len(num) <= 15 && num[0] != '0' && isDigits(num)
}

// dedup returns ps without repeats, in first-seen order; nil for none.
func dedup(ps []string) []string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// encode marshals v as compact JSON without HTML escaping (UTF-8, no BOM,
// no trailing newline).
func encode(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// sendBody validates status and returns the method and body a send makes.
// status is a MediaStatus, VoiceStatus or TextStatus (or a pointer to one).
func sendBody(status any) (method string, body []byte, err error) {
	var v any
	switch s := status.(type) {
	case *MediaStatus:
		if s == nil {
			break
		}
		return sendBody(*s)
	case *VoiceStatus:
		if s == nil {
			break
		}
		return sendBody(*s)
	case *TextStatus:
		if s == nil {
			break
		}
		return sendBody(*s)
	case MediaStatus:
		method = MethodSendMediaStatus
		err = s.Validate()
		v = mediaBody{s.URLFile, s.FileName, s.Caption, dedup(s.Participants)}
	case VoiceStatus:
		method = MethodSendVoiceStatus
		err = s.Validate()
		v = voiceBody{s.URLFile, s.FileName, s.BackgroundColor, dedup(s.Participants)}
	case TextStatus:
		method = MethodSendTextStatus
		err = s.Validate()
		v = textBody{s.Message, s.BackgroundColor, s.Font, dedup(s.Participants)}
	}
	if method == "" {
		return "", nil, &Error{Code: CodeInvalidRequest, Message: fmt.Sprintf("%T is not a MediaStatus, VoiceStatus or TextStatus", status), kind: ErrInvalid}
	}
	if err != nil {
		return method, nil, err
	}
	body, err = encode(v)
	if err != nil {
		return method, nil, &Error{Method: method, Code: CodeInvalidRequest, Message: err.Error(), kind: ErrInvalid}
	}
	return method, body, nil
}
