// Command enricher turns raw customer-support tickets into enriched,
// searchable records. It is one binary with a subcommand per job: serve
// (API and workers on the embedded backends), enrich (a file in, enriched
// JSON Lines out, no service), upload (send tickets to a running service),
// and eval (accuracy of the classifiers on a labeled file).
//
// main only turns signals into context cancellation and errors into exit
// codes; each subcommand is a small type in its own file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes: 0 success, 1 the work ran but some input was bad (invalid
// tickets, failed uploads), 2 usage errors and failures to start.
const (
	exitOK    = 0
	exitInput = 1
	exitError = 2
)

// errInput marks a run that completed but met bad input; it maps to exit 1.
var errInput = errors.New("some input was rejected")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// stdio bundles the process's streams so commands can be tested with buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand. run receives the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, io stdio) error
}

func commands() []command {
	return []command{
		{"serve", "run the API, the workers and the embedded backends", runServe},
		{"worker", "run only the workers (Kubernetes pods), on AWS by default", runWorker},
		{"enrich", "enrich tickets from a file or stdin to JSON Lines, no service needed", runEnrich},
		{"upload", "send tickets to a running service", runUpload},
		{"lambda", "run as an AWS Lambda function on SQS events", runLambda},
		{"setup", "create the AWS resources idempotently (--dry-run prints the plan)", runSetup},
		{"eval", "accuracy and confusion matrices of intent and urgency on a labeled file", runEval},
		{"models", "download (pinned, SHA-256 verified), list and verify the model files", runModels},
	}
}

func run(ctx context.Context, args []string, io stdio) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(io.err)
		if len(args) == 0 {
			return exitError
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], io)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		}
		fmt.Fprintf(io.err, "enricher %s: %v\n", c.name, err)
		if errors.Is(err, errInput) {
			return exitInput
		}
		return exitError
	}
	fmt.Fprintf(io.err, "enricher: unknown command %q\n\n", args[0])
	usage(io.err)
	return exitError
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "enricher turns raw support tickets into enriched records (intent, urgency).\n\nUsage:\n  enricher <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'enricher <command> --help' for its flags and an example.\n")
}

// newFlagSet returns a flag set whose --help prints what the command does,
// an example, and the flags, to the command's error stream.
func newFlagSet(name, synopsis, about, example string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(w)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: enricher %s %s\n\n%s\n\nExample:\n%s\n\nFlags:\n", name, synopsis, about, example)
		fs.PrintDefaults()
	}
	return fs
}
