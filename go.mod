module github.com/mediaprep/mediaprep

go 1.26.8

require github.com/h2non/filetype v1.1.3
