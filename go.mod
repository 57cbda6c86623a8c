module github.com/rxpype/rxpype

go 1.23

require (
	github.com/benbjohnson/clock v1.3.5
	go.uber.org/goleak v1.3.0
)
