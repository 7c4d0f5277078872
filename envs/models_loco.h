/* models_loco.h — MJCF text of the Gym MuJoCo v4 locomotion models, embedded in the binary.
 *
 *   const char *xml = models_loco_hopper_xml;    // load with an mjVFS, never from a path
 *
 * Physically identical rewrites of Gymnasium's v4 assets (hopper.xml, walker2d.xml with the right
 * foot at friction 0.9, half_cheetah.xml, ant.xml) for MuJoCo 2.2.2: every range carries an
 * explicit limited/ctrllimited, angle units are as in the originals (degrees except HalfCheetah),
 * and visual-only elements are dropped. tests/test_locomotion.c checks them against the golden
 * trajectories of envs-facts.md A.3.
 */
#ifndef FLOQ_MODELS_LOCO_H
#define FLOQ_MODELS_LOCO_H

extern const char models_loco_hopper_xml[];      /* Hopper-v4: nq 6, nv 6, nu 3, nbody 5 */
extern const char models_loco_walker2d_xml[];    /* Walker2d-v4: nq 9, nv 9, nu 6, nbody 8 */
extern const char models_loco_halfcheetah_xml[]; /* HalfCheetah-v4: nq 9, nv 9, nu 6, nbody 8 */
extern const char models_loco_ant_xml[];         /* Ant-v4: nq 15, nv 14, nu 8, nbody 14 */

#endif
