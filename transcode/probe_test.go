package transcode

import "testing"

func TestParseProbe(t *testing.T) {
	const phone = `{
	  "streams": [
	    {"index":0,"codec_type":"video","codec_name":"h264","profile":"High","pix_fmt":"yuv420p","width":1920,"height":1080,
	     "disposition":{"attached_pic":0},"side_data_list":[{"side_data_type":"Display Matrix","rotation":-90}],"nb_frames":"900"},
	    {"index":1,"codec_type":"audio","codec_name":"aac","profile":"LC","duration":"30.0"},
	    {"index":2,"codec_type":"video","codec_name":"mjpeg","width":600,"height":600,"disposition":{"attached_pic":1}}
	  ],
	  "format": {"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"30.016","bit_rate":"8000000","size":"30000000"}
	}`
	p, err := parseProbe([]byte(phone))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := p.Video()
	if !ok || v.Index != 0 || v.Rotation != 90 || v.Frames != 900 {
		t.Fatalf("video stream %+v", v)
	}
	if w, h := v.DisplaySize(); w != 1080 || h != 1920 {
		t.Fatalf("display size %d×%d, want 1080×1920", w, h)
	}
	if a, ok := p.Audio(); !ok || a.Profile != "LC" || p.AudioCount() != 1 {
		t.Fatalf("audio %+v", a)
	}
	if p.Duration != 30.016 || p.Size != 30000000 || p.BitRate != 8000000 {
		t.Fatalf("format facts %+v", p)
	}

	// Cover art alone is not video; the old rotate tag is clockwise.
	const music = `{"streams":[{"index":0,"codec_type":"audio","codec_name":"mp3","duration":"12.5"},
	  {"index":1,"codec_type":"video","codec_name":"png","disposition":{"attached_pic":1},"tags":{"rotate":"270"}}],
	  "format":{"format_name":"mp3","duration":"N/A"}}`
	p, err = parseProbe([]byte(music))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := p.Video(); ok {
		t.Fatal("cover art was taken for video")
	}
	if p.Duration != 12.5 {
		t.Fatalf("duration %v, want the stream's 12.5 when the format has none", p.Duration)
	}
	if p.Streams[1].Rotation != 270 {
		t.Fatalf("rotate tag 270 gave %d", p.Streams[1].Rotation)
	}
	if _, err := parseProbe([]byte("not json")); err == nil {
		t.Fatal("parseProbe accepted garbage")
	}
}

func TestNormaliseRotation(t *testing.T) {
	for in, want := range map[float64]int{0: 0, 90: 90, -90: 270, 180: 180, -180: 180, 270: 270, 360: 0, 89.9: 90, -270: 90} {
		if got := normaliseRotation(in); got != want {
			t.Errorf("normaliseRotation(%v) = %d, want %d", in, got, want)
		}
	}
}
