/* landscape.h — the value landscape of a point-maze checkpoint, against closed-form optima.
 *
 * `floq landscape --checkpoint FILE --out grid.csv` evaluates, on a grid of reachable points
 * of the checkpoint's maze:
 *   v_pi     mean over S policy samples of Q(s, clip(mu(s, eps)))  (the critic the actor uses:
 *            floq's distilled critic, fql's critic; mean over members)
 *   q_max    max over the 8 king-move actions (+-1, 0), (+-1, +-1) of Q(s, a)
 *   a_x,a_y  the policy's mean action
 *   v_star   the optimal value in closed form: the point moves 0.2 a with |a_i| <= 1, so the
 *            fewest steps to the goal disc is the L-infinity geodesic distance d / 0.2
 *            (rounded up), found by BFS on a 0.05 m grid of the free space (centre >= 0.66 m
 *            from every wall box); v_star = -(1 - g^n) / (1 - g); 0 inside the goal disc
 *   v_mc     the discounted return of one rollout of the policy from the point (true V^pi),
 *            and its success flag
 *   step_ok  1 if one step of the policy's mean action lowers the geodesic distance
 * and prints a summary line (rank correlations, mean absolute errors, fraction of correct steps,
 * MC success). docs/results.md explains how these decide "defect or budget".
 */
#ifndef FLOQ_LANDSCAPE_H
#define FLOQ_LANDSCAPE_H

int landscape_main(int argc, char **argv);

#endif
