package chat

import "context"

// observeOptional runs call, a call of one of the Store's optional
// abilities named method, observed as the Store's other calls are when
// the Service has an Observer or a Tracer.
func (s *Service) observeOptional(ctx context.Context, method string, call func(context.Context) error) error {
	o, observed := s.store.(*observedStore)
	if !observed {
		return call(ctx)
	}
	ctx, done := o.begin(ctx, method)
	err := call(ctx)
	done(err)
	return err
}

// unsupported is the error for a request that needs an ability the
// Store lacks, named by what.
func unsupported(what string) error {
	return &requestError{kind: ErrNotImplemented, msg: what + " are not supported by this server's store"}
}
