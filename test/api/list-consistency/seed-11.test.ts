import { listConsistencyProperty } from './property.js';

// One of three files running the property of ./property.ts (two runs each), side by side.
listConsistencyProperty(11, 2);
