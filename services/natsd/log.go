package natsd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// logAdapter routes nats-server's printf-style log to slog under one static message, the
// formatted text in the "log" attribute. It also keeps the first fatal message: nats-server
// logs fatal startup errors (listen, JetStream) instead of returning them, and with a custom
// logger it does not exit, so Start reads the message from here.
type logAdapter struct {
	logger *slog.Logger

	mu       sync.Mutex
	fatalErr error
}

const logMsg = "embedded NATS"

func (l *logAdapter) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !l.logger.Enabled(ctx, level) {
		return
	}
	l.logger.Log(ctx, level, logMsg, "log", fmt.Sprintf(format, v...))
}

// Noticef logs at debug level: nats-server's notices (its start-up banner, JetStream limits,
// listen addresses) would drown the control plane's own start-up lines; the CP logs the
// facts that matter itself. Warnings and errors keep their level.
func (l *logAdapter) Noticef(format string, v ...any) { l.log(slog.LevelDebug, format, v) }

// Warnf logs at warn level.
func (l *logAdapter) Warnf(format string, v ...any) { l.log(slog.LevelWarn, format, v) }

// Errorf logs at error level.
func (l *logAdapter) Errorf(format string, v ...any) { l.log(slog.LevelError, format, v) }

// Fatalf logs at error level and records the error for Start.
func (l *logAdapter) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.logger.Error(logMsg, "log", msg, "fatal", true)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatalErr == nil {
		l.fatalErr = errors.New(msg)
	}
}

// Debugf logs at debug level.
func (l *logAdapter) Debugf(format string, v ...any) { l.log(slog.LevelDebug, format, v) }

// Tracef logs at debug level (nats-server calls it only when tracing is on).
func (l *logAdapter) Tracef(format string, v ...any) { l.log(slog.LevelDebug, format, v) }

// fatal returns the first fatal error logged, if any.
func (l *logAdapter) fatal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalErr
}
