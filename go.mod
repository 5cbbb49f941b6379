module github.com/mediaprep/mediaprep

go 1.26.8

require (
	github.com/disintegration/imaging v1.6.2
	github.com/h2non/filetype v1.1.3
	github.com/muesli/smartcrop v0.3.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/image v0.47.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/nfnt/resize v0.0.0-20180221191011-83c6a9932646 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
)
