package engines

import (
	"context"
	"errors"
	"fmt"

	"github.com/fileconv/fileconv/internal/convert"
	"github.com/fileconv/fileconv/internal/fail"
	"github.com/fileconv/fileconv/internal/office"
)

// officeEngine is LibreOffice's pool as the converter's office engine.
type officeEngine struct{ pool *office.Pool }

func (o officeEngine) Convert(ctx context.Context, job convert.OfficeJob) ([]byte, error) {
	from := job.From
	if from == string(convert.KindOLE2) {
		// A legacy document whose streams were not read: LibreOffice's own
		// type detection tells it apart from the contents.
		from = string(convert.KindDOC)
	}
	out, err := o.pool.Convert(ctx, office.Job{Input: job.Input, From: from, To: job.To, Pages: job.Pages, PDFA: job.PDFA,
		Landscape: job.Landscape, PageSize: job.PageSize, FitWidth: job.FitWidth, Password: job.Password})
	return out, officeError(err)
}

// officeError turns the pool's errors into the converter's.
func officeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, office.ErrPassword):
		return fmt.Errorf("%w: %w", convert.ErrDocumentPassword, err)
	case errors.Is(err, office.ErrUnreadable):
		return fmt.Errorf("%w: %w", convert.ErrDocumentUnreadable, err)
	case errors.Is(err, office.ErrCrashed):
		return fmt.Errorf("%w: %w", convert.ErrEngineCrashed, err)
	case errors.Is(err, office.ErrUnsupported):
		return &convert.Error{Code: fail.UnsupportedOperation, Cause: err, Message: err.Error()}
	case errors.Is(err, office.ErrClosed):
		return &convert.Error{Code: fail.Unavailable, Cause: err, Message: "this worker's office engine (LibreOffice) is stopping"}
	}
	return err
}
