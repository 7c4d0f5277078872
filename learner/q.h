/* q.h — `floq q`: Q(s, a) from a checkpoint for rows of (observation, action), with any number
 * of integration steps and noise samples at read-out time (the paper's test-time compute knob).
 * README.md "Reading Q-values" gives the input format and what the numbers are.
 *
 *   floq q --checkpoint run/checkpoints/ckpt-0002000000.ckpt --input rows.txt --flow_steps 16
 */
#ifndef FLOQ_Q_H
#define FLOQ_Q_H

int q_main(int argc, char **argv);

#endif
