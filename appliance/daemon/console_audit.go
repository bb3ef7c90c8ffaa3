package daemon

import (
	"context"

	"tresor/appliance/audit"
)

// ApplianceLogPage returns one page of the appliance audit log (newest
// first, by position; see audit.Log.Page), for the console's log page.
func (a *App) ApplianceLogPage(ctx context.Context, q audit.PageQuery) (audit.Page, error) {
	st, err := a.running()
	if err != nil {
		return audit.Page{}, err
	}
	return st.audit.Page(ctx, q)
}

// ApplianceLogProof returns the inclusion proof of the appliance log's
// entry at seq against its latest checkpoint (signed for it if needed)
// and checks it with the appliance's audit key; verr is the check's
// failure, err one of making the proof (audit.ErrNoEntry, ErrPruned...).
func (a *App) ApplianceLogProof(ctx context.Context, seq int64) (p audit.Proof, verr, err error) {
	st, err := a.running()
	if err != nil {
		return p, nil, err
	}
	if p, err = st.audit.Prove(ctx, seq); err != nil {
		return p, nil, err
	}
	_, verr = audit.VerifyProof(p, st.audit.VerifierKey())
	return p, verr, nil
}
