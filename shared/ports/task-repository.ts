import type { Image } from '../domain/image.js';
import type { Task, TaskListQuery } from '../domain/task.js';

/** An image and its tasks, as one read returns them. */
export interface ImageTasks {
  image: Image | undefined;
  tasks: Task[];
}

/**
 * Task storage. Tasks of an import are written by the image's own writes (ImageRepository.save
 * takes the task an import records, and finishes it when the image leaves importing), in the
 * same transaction; this port reads them, and records the tasks POST /v2/tasks creates.
 * Expired tasks (past `expires_at`) are never returned, even before the store removes them.
 */
export interface TaskRepository {
  /** The task, or undefined (also for an id that is not a UUID). Strongly consistent. */
  get(id: string): Promise<Task | undefined>;
  /** The image (tombstones included) and its tasks, oldest first, in one read. */
  imageTasks(imageId: string): Promise<ImageTasks>;
  /** One page of tasks in created_at order (ties by id), past the marker; only `owner`'s when given. */
  list(query: TaskListQuery, marker: Task | undefined, owner: string | undefined): Promise<Task[]>;
  /** Records a new task (with its image's copy when it names an image); conditional on the id being unused. */
  create(task: Task): Promise<void>;
  /**
   * A running import's progress as its message (both its items), conditional on the task still
   * processing; false when it has finished (or is gone). The web-download fetcher's, sparingly.
   */
  recordProgress(taskId: string, imageId: string, message: string): Promise<boolean>;
}
