// ᾱ_t, the share of the original signal's variance left at step t, for both schedules —
// computed by the same makeSchedule the widgets and the training scripts use.
const linear = makeSchedule('linear', 1000);
const cosine = makeSchedule('cosine', 1000);

show({ linear: linear.alphaBar, cosine: cosine.alphaBar }, { xLabel: 't', yLabel: 'ᾱ_t' });

// Where does each schedule keep only half of the signal?
console.log('ᾱ_t drops below 0.5 at t =', halfSignalT(linear), '(linear) and', halfSignalT(cosine), '(cosine)');
// Try: plot the log-SNR instead — show({ linear: linear.logSnr, cosine: cosine.logSnr })
